using HierDiff.Core;

namespace HierDiff.Cli;

/// <summary>
/// A run's output folder, written all or nothing: files go to a hidden sibling folder, which replaces the target
/// only when everything is written. A failed run leaves no half-written output and never touches what was there.
/// </summary>
internal sealed class OutputFolder : IDisposable
{
    private readonly string _target;
    private readonly bool _overwrite;
    private bool _committed;

    private OutputFolder(string target, bool overwrite, string staging)
    {
        _target = target;
        _overwrite = overwrite;
        Staging = staging;
    }

    /// <summary>Where to write until <see cref="Commit"/>.</summary>
    public string Staging { get; }

    /// <summary>Refuses an existing non-empty folder unless <paramref name="overwrite"/>; call before any work.</summary>
    public static OutputFolder Open(string path, bool overwrite)
    {
        string target = Path.GetFullPath(path);
        if (File.Exists(target))
        {
            throw new HierDiffInputException($"{path}: --out is a file, not a folder");
        }

        if (Directory.Exists(target) && Directory.EnumerateFileSystemEntries(target).Any() && !overwrite)
        {
            throw new HierDiffInputException($"{path}: the output folder exists and is not empty; choose another or add --overwrite");
        }

        string parent = Path.GetDirectoryName(target) ?? ".";
        Directory.CreateDirectory(parent);
        string staging = Path.Combine(parent, $".{Path.GetFileName(target)}.partial-{Guid.NewGuid():N}");
        Directory.CreateDirectory(staging);
        return new OutputFolder(target, overwrite, staging);
    }

    public void WriteFile(string relative, byte[] bytes)
    {
        string path = Path.Combine(Staging, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
    }

    /// <summary>Puts the finished folder in place of the target.</summary>
    public void Commit()
    {
        if (Directory.Exists(_target))
        {
            if (Directory.EnumerateFileSystemEntries(_target).Any() && !_overwrite)
            {
                throw new HierDiffInputException($"{_target}: the output folder was filled by something else during the run");
            }

            Directory.Delete(_target, recursive: true);
        }

        Directory.Move(Staging, _target);
        _committed = true;
    }

    public void Dispose()
    {
        if (!_committed && Directory.Exists(Staging))
        {
            Directory.Delete(Staging, recursive: true);
        }
    }
}
