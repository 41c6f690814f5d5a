using System.Runtime.InteropServices;
using HierDiff.Core;

namespace HierDiff.Pipeline.RunFolders;

/// <summary>
/// A run's output folder, written all or nothing. Files go to a hidden staging folder beside the target, which
/// takes the target's place in one rename when everything is written, so at every instant either the old run or
/// the new one is whole at the target. Before any work, <see cref="Open"/> refuses what is not ours to replace
/// (see <see cref="PreviousRun"/>) and takes a lock beside the target, so a second run into the same folder is
/// refused at its start. What an interrupted run left beside the target is removed by the next run there.
/// </summary>
public sealed class OutputFolder : IDisposable
{
    private readonly OutputKind _kind;
    private readonly string _target;
    private readonly string _shown;
    private readonly bool _overwrite;
    private readonly string _lockPath;
    private FileStream? _lock;
    private bool _committed;

    private OutputFolder(OutputKind kind, string target, string shown, bool overwrite, string staging, string lockPath, FileStream lockFile)
    {
        _kind = kind;
        _target = target;
        _shown = shown;
        _overwrite = overwrite;
        Staging = staging;
        _lockPath = lockPath;
        _lock = lockFile;
    }

    /// <summary>Where to write until <see cref="Commit"/>.</summary>
    public string Staging { get; }

    /// <summary>
    /// Checks the folder and takes it for this run; call before any work. Refuses a folder that is the file system's
    /// root, the home or current folder or one above them, that holds one of <paramref name="inputs"/> (the prompt
    /// file, the model), or that is not empty, unless it holds a previous output of this
    /// <paramref name="kind"/> and <paramref name="overwrite"/>.
    /// </summary>
    public static OutputFolder Open(string path, bool overwrite, params string[] inputs) => Open(OutputKind.Run, path, overwrite, inputs);

    public static OutputFolder Open(OutputKind kind, string path, bool overwrite, params string[] inputs)
    {
        string target = RealPath(path);
        string shown = path;
        string? parent = Path.GetDirectoryName(target);
        if (parent is null || target == RealPath(Path.GetPathRoot(target)!))
        {
            throw new HierDiffInputException($"--out {shown}: is the file system's root; choose a folder of its own");
        }

        foreach ((string place, string what) in new[] { (Environment.CurrentDirectory, "the current folder"), (Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), "your home folder") })
        {
            if (place.Length > 0 && IsSameOrInside(RealPath(place), target))
            {
                throw new HierDiffInputException($"--out {shown}: is {what}{(RealPath(place) == target ? "" : " or holds it")}; choose a folder of its own");
            }
        }

        foreach (string input in inputs)
        {
            if (IsSameOrInside(RealPath(input), target))
            {
                throw new HierDiffInputException($"--out {shown}: holds {input}, an input of this run; choose another folder");
            }
        }

        if (File.Exists(target))
        {
            throw new HierDiffInputException($"--out {shown}: is a file, not a folder");
        }

        try
        {
            Directory.CreateDirectory(parent);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new HierDiffInputException($"--out {shown}: cannot create the folder it goes in ({parent}): {e.Message}");
        }

        string name = Path.GetFileName(target);
        string lockPath = Path.Combine(parent, $".{name}.hierdiff-lock");
        FileStream lockFile = TakeLock(lockPath, shown);
        try
        {
            RemoveLeftovers(parent, name, target);
            if (Directory.Exists(target) && Directory.EnumerateFileSystemEntries(target).Any())
            {
                if (!overwrite)
                {
                    throw new HierDiffInputException($"--out {shown}: the output folder exists and is not empty; choose another or add --overwrite");
                }

                if (kind.ForeignEntry(target) is string foreign)
                {
                    throw new HierDiffInputException($"--out {shown}: --overwrite replaces only {kind.Name}, and this folder holds {foreign}; choose another folder");
                }
            }

            string staging = Path.Combine(parent, $".{name}.partial-{Guid.NewGuid():N}");
            Directory.CreateDirectory(staging);
            return new OutputFolder(kind, target, shown, overwrite, staging, lockPath, lockFile);
        }
        catch (Exception e)
        {
            Release(lockFile, lockPath);
            if (e is IOException or UnauthorizedAccessException)
            {
                throw new HierDiffInputException($"--out {shown}: cannot write beside it in {parent}: {e.Message}");
            }

            throw;
        }
    }

    public void WriteFile(string relative, byte[] bytes)
    {
        string path = Path.Combine(Staging, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
    }

    /// <summary>Puts the finished folder in place of the target, in one rename where the system has one for it.</summary>
    public void Commit()
    {
        if (Directory.Exists(_target) && Directory.EnumerateFileSystemEntries(_target).Any()
            && (!_overwrite || _kind.ForeignEntry(_target) is not null))
        {
            throw new HierDiffInputException($"--out {_shown}: the output folder was filled by something else during the run; nothing was replaced");
        }

        if (!Directory.Exists(_target))
        {
            Directory.Move(Staging, _target);
        }
        else if (!Exchange(Staging, _target))
        {
            // No atomic exchange here: set the old run aside first. A run interrupted between the two renames leaves
            // the old run whole beside the target, and the next run puts it back (RemoveLeftovers).
            string old = Path.Combine(Path.GetDirectoryName(_target)!, $".{Path.GetFileName(_target)}.old-{Guid.NewGuid():N}");
            Directory.Move(_target, old);
            Directory.Move(Staging, _target);
            Directory.Move(old, Staging);
        }

        // After the swap the staging name holds the old run (or nothing).
        _committed = true;
        DeleteIfThere(Staging);
        Release(_lock, _lockPath);
        _lock = null;
    }

    public void Dispose()
    {
        if (!_committed)
        {
            DeleteIfThere(Staging);
        }

        Release(_lock, _lockPath);
        _lock = null;
    }

    /// <summary>The folder a path names, spelled one way: absolute, no trailing separator, no <c>.</c> or
    /// <c>..</c>, and every symbolic link in it followed (a link to a folder means that folder).</summary>
    internal static string RealPath(string path)
    {
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        string root = Path.GetPathRoot(full)!;
        string current = root;
        foreach (string part in full[root.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries))
        {
            string next = Path.Combine(current, part);
            var info = new FileInfo(next);
            current = info.LinkTarget is not null && info.ResolveLinkTarget(returnFinalTarget: true) is FileSystemInfo resolved
                ? Path.TrimEndingDirectorySeparator(Path.GetFullPath(resolved.FullName))
                : next;
        }

        return current;
    }

    private static bool IsSameOrInside(string path, string folder) =>
        path == folder || path.StartsWith(Path.EndsInDirectorySeparator(folder) ? folder : folder + Path.DirectorySeparatorChar, StringComparison.Ordinal);

    /// <summary>An exclusive lock on a file beside the target (flock on Unix): the system drops it when the process
    /// dies, however it dies, so a killed run never blocks the next one.</summary>
    private static FileStream TakeLock(string lockPath, string shown)
    {
        try
        {
            return new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new HierDiffInputException($"--out {shown}: cannot write beside it: {e.Message}");
        }
        catch (IOException) when (File.Exists(lockPath))
        {
            throw new HierDiffInputException($"--out {shown}: another hierdiff run is writing this folder now (it holds {lockPath}); wait for it to end or choose another folder");
        }
        catch (IOException e)
        {
            throw new HierDiffInputException($"--out {shown}: cannot write beside it: {e.Message}");
        }
    }

    private static void Release(FileStream? lockFile, string lockPath)
    {
        if (lockFile is null)
        {
            return;
        }

        // Deleted while still held, so no other run can find it held by nobody.
        File.Delete(lockPath);
        lockFile.Dispose();
    }

    /// <summary>With the lock held, whatever an earlier run with this target left beside it is dead: a staging
    /// folder goes; an old run set aside by a swap that was cut short goes back in place if the target is gone.</summary>
    private static void RemoveLeftovers(string parent, string name, string target)
    {
        foreach (string old in Beside(parent, $".{name}.old-"))
        {
            if (!Directory.Exists(target))
            {
                Directory.Move(old, target);
            }
            else
            {
                DeleteIfThere(old);
            }
        }

        foreach (string staging in Beside(parent, $".{name}.partial-"))
        {
            DeleteIfThere(staging);
        }
    }

    /// <summary>The folders in <paramref name="parent"/> whose names start with <paramref name="prefix"/> (compared as
    /// text: a target's name may hold wildcard characters).</summary>
    private static string[] Beside(string parent, string prefix) =>
        Directory.EnumerateDirectories(parent).Where(d => Path.GetFileName(d).StartsWith(prefix, StringComparison.Ordinal)).ToArray();

    private static void DeleteIfThere(string folder)
    {
        if (Directory.Exists(folder))
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>Swaps two folders in one step (Linux's renameat2 with RENAME_EXCHANGE); false where the system or
    /// the file system has no such call.</summary>
    private static bool Exchange(string a, string b)
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        try
        {
            return RenameAt2(AtCurrentDirectory, a, AtCurrentDirectory, b, RenameExchange) == 0
                || (Marshal.GetLastPInvokeError() is not (ENOSYS or EINVAL)
                    ? throw new IOException($"cannot swap {a} and {b}: {Marshal.GetLastPInvokeErrorMessage()}")
                    : false);
        }
        catch (EntryPointNotFoundException)
        {
            return false;
        }
    }

    private const int AtCurrentDirectory = -100;
    private const uint RenameExchange = 2;
    private const int ENOSYS = 38;
    private const int EINVAL = 22;

    [DllImport("libc", EntryPoint = "renameat2", SetLastError = true)]
    private static extern int RenameAt2(int oldDirectory, string oldPath, int newDirectory, string newPath, uint flags);
}

/// <summary>What an output folder holds when a command made it: <paramref name="ForeignEntry"/> names the first thing
/// in a folder that the command did not write (null: the folder is a previous output, which --overwrite may replace).</summary>
public sealed record OutputKind(string Name, Func<string, string?> ForeignEntry)
{
    public static OutputKind Run { get; } = new("a previous HierDiff run", PreviousRun.ForeignEntry);
}
