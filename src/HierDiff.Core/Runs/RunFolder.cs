using System.Globalization;

namespace HierDiff.Core.Runs;

/// <summary>
/// A run folder written by <c>hierdiff generate</c>, as the commands that read one (report, eval, compare) see it:
/// the one place that turns a file name found in the folder's own files into a path. A run folder can come from
/// anyone, so a name is refused unless it stays inside the folder: no absolute paths, drive letters, backslashes or
/// <c>..</c>, and no link (at any level) that leads out of it. Files are read only up to a size, so a huge or
/// sparse file cannot fill memory, and written by replacing, never through a link planted in the folder.
/// </summary>
public sealed class RunFolder
{
    /// <summary>manifest.json, plan.json, scores.json: far more than 50,000 prompts need.</summary>
    public const long MaxJsonBytes = 256L << 20;

    /// <summary>One image (generate writes PNGs of at most a few MB).</summary>
    public const long MaxImageBytes = 64L << 20;

    /// <summary>As Linux's limit on links followed in one path (ELOOP), so a loop of links ends.</summary>
    private const int MaxLinkHops = 40;

    private static readonly StringComparison PathComparison = OperatingSystem.IsWindows() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;

    /// <summary>The folder's full path with links followed; <see cref="_inside"/> starts every path inside it.</summary>
    private readonly string _real;
    private readonly string _inside;

    private RunFolder(string path, string real)
    {
        Path = path;
        _real = System.IO.Path.TrimEndingDirectorySeparator(real);
        _inside = System.IO.Path.EndsInDirectorySeparator(_real) ? _real : _real + System.IO.Path.DirectorySeparatorChar;
    }

    /// <summary>The folder as the user named it, for messages.</summary>
    public string Path { get; }

    public static RunFolder Open(string path)
    {
        if (!Directory.Exists(path))
        {
            throw new HierDiffInputException($"{path}: {(File.Exists(path) ? "is a file" : "does not exist")}; a run folder is a folder written by hierdiff generate");
        }

        return new RunFolder(path, FollowLinks(System.IO.Path.GetFullPath(path), path));
    }

    /// <summary>How messages show a file of the folder: the folder as given, then the name.</summary>
    public string Show(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>
    /// The full path of the file <paramref name="name"/> names (links followed), which need not exist. Refuses a name
    /// that could lead anywhere else, saying so after <paramref name="namedBy"/> ("FILE: FIELD" of the name).
    /// </summary>
    public string Resolve(string name, string namedBy)
    {
        if (Problem(name) is string problem)
        {
            throw new HierDiffInputException($"{namedBy}: '{name}' {problem}; names in a run folder are relative to it, like images/0000.png");
        }

        string path = FollowLinks(System.IO.Path.Combine(_real, name.Replace('/', System.IO.Path.DirectorySeparatorChar)), namedBy);
        if (!path.StartsWith(_inside, PathComparison))
        {
            throw new HierDiffInputException($"{namedBy}: '{name}' is a link to {path}, outside the run folder");
        }

        return path;
    }

    /// <summary>The bytes of the file <paramref name="name"/>, which must be there; see <see cref="Resolve"/>.</summary>
    public byte[] Read(string name, string namedBy, long maxBytes) =>
        ReadIfPresent(name, namedBy, maxBytes) ?? throw new HierDiffInputException($"{namedBy}: {Show(name)} is missing");

    /// <summary>The bytes of the file <paramref name="name"/>, or null where there is none.</summary>
    public byte[]? ReadIfPresent(string name, string namedBy, long maxBytes)
    {
        string path = Resolve(name, namedBy);
        if (Directory.Exists(path))
        {
            throw new HierDiffInputException($"{namedBy}: {Show(name)} is a folder, not a file");
        }

        var info = new FileInfo(path);
        if (!info.Exists)
        {
            return null;
        }

        // Checked before reading: a file can claim a gigabyte and take no disk (a sparse file).
        if (info.Length > maxBytes)
        {
            throw new HierDiffInputException(
                $"{namedBy}: {Show(name)} is {info.Length.ToString("N0", CultureInfo.InvariantCulture)} bytes; at most {maxBytes.ToString("N0", CultureInfo.InvariantCulture)} are read");
        }

        return File.ReadAllBytes(path);
    }

    /// <summary>Writes the file <paramref name="name"/> of the folder itself (report.html, scores.json) by moving a new
    /// file over it: a link planted under that name is replaced, and what it points to is left alone.</summary>
    public void Write(string name, byte[] bytes) => Replace(_real, name, bytes);

    /// <summary>Writes the file <paramref name="name"/> of the folder's own sub-folder <paramref name="sub"/> (made
    /// if missing) as <see cref="Write(string, byte[])"/> does; a link or a file in the sub-folder's place is refused.</summary>
    public void Write(string sub, string name, byte[] bytes) => Replace(OwnFolder(sub, create: true)!, name, bytes);

    private static void Replace(string folder, string name, byte[] bytes)
    {
        if (Problem(name) is not null || name.Contains('/'))
        {
            throw new ArgumentException($"'{name}' is not a file name of the run folder itself", nameof(name));
        }

        // A failure to write (disk full, no permission) is the machine's, not the input's: it is left to the CLI.
        string temporary = System.IO.Path.Combine(folder, $".{name}.{Guid.NewGuid():N}.tmp");
        try
        {
            File.WriteAllBytes(temporary, bytes);
            File.Move(temporary, System.IO.Path.Combine(folder, name), overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    /// <summary>Deletes the files of the sub-folder <paramref name="sub"/> that <paramref name="delete"/> picks by
    /// name, and the sub-folder too once it is empty; a link in its place is refused, a missing one is nothing.</summary>
    public void DeleteFiles(string sub, Func<string, bool> delete)
    {
        if (OwnFolder(sub, create: false) is not string folder)
        {
            return;
        }

        foreach (string file in Directory.EnumerateFiles(folder).Where(f => delete(System.IO.Path.GetFileName(f))).ToArray())
        {
            File.Delete(file);
        }

        if (!Directory.EnumerateFileSystemEntries(folder).Any())
        {
            Directory.Delete(folder);
        }
    }

    /// <summary>Whether the folder has the plain sub-folder <paramref name="sub"/>; a link or a file in its place is
    /// refused (before a command writes anything there).</summary>
    public bool HasOwnFolder(string sub) => OwnFolder(sub, create: false) is not null;

    /// <summary>The full path of a plain sub-folder of the folder itself (never through a link), or null where
    /// there is none and <paramref name="create"/> is false.</summary>
    private string? OwnFolder(string sub, bool create)
    {
        if (Problem(sub) is not null || sub.Contains('/'))
        {
            throw new ArgumentException($"'{sub}' is not a folder name of the run folder itself", nameof(sub));
        }

        string folder = System.IO.Path.Combine(_real, sub);
        var info = new DirectoryInfo(folder);
        if (info.LinkTarget is not null || File.Exists(folder))
        {
            throw new HierDiffInputException($"{Show(sub)} is {(info.LinkTarget is not null ? "a link" : "a file")}; HierDiff writes its own folder there");
        }

        if (!info.Exists)
        {
            if (!create)
            {
                return null;
            }

            Directory.CreateDirectory(folder);
        }

        return folder;
    }

    /// <summary>Why <paramref name="name"/> cannot name a file inside the folder on any system, or null.</summary>
    private static string? Problem(string name)
    {
        if (name.Length == 0)
        {
            return "is empty";
        }

        if (name.Any(char.IsControl))
        {
            return "holds control characters";
        }

        if (name.Contains('\\'))
        {
            return "holds a backslash (use / between folders)";
        }

        if (name.Contains(':'))
        {
            return "holds a colon (a drive letter or a stream)";
        }

        if (name.StartsWith('/'))
        {
            return "is an absolute path";
        }

        return name.Split('/').Contains("..") ? "leads outside the run folder (..)" : null;
    }

    /// <summary>
    /// <paramref name="path"/> with every link along it followed, part by part as realpath(3) does (a link to a
    /// folder in the middle counts as much as one at the end); parts that do not exist are kept as they are.
    /// </summary>
    private static string FollowLinks(string path, string namedBy)
    {
        string current = System.IO.Path.GetPathRoot(path)!;
        var pending = new Stack<string>(Parts(path[current.Length..]).Reverse());
        int hops = 0;
        while (pending.Count > 0)
        {
            string part = pending.Pop();
            if (part == ".")
            {
                continue;
            }

            if (part == "..")
            {
                current = System.IO.Path.GetDirectoryName(current) ?? current;
                continue;
            }

            string next = System.IO.Path.Combine(current, part);
            string? target = new FileInfo(next).LinkTarget;
            if (target is null)
            {
                current = next;
                continue;
            }

            if (++hops > MaxLinkHops)
            {
                throw new HierDiffInputException($"{namedBy}: {path} goes through more than {MaxLinkHops} links (a loop of links?)");
            }

            // A relative target is relative to the link's folder, which is where we are.
            if (System.IO.Path.IsPathRooted(target))
            {
                current = System.IO.Path.GetPathRoot(target)!;
                target = target[current.Length..];
            }

            foreach (string p in Parts(target).Reverse())
            {
                pending.Push(p);
            }
        }

        return current;
    }

    private static IEnumerable<string> Parts(string path) =>
        path.Split([System.IO.Path.DirectorySeparatorChar, System.IO.Path.AltDirectorySeparatorChar], StringSplitOptions.RemoveEmptyEntries);
}
