using HierDiff.Core;

namespace HierDiff.Pipeline.Storage;

/// <summary>
/// Blob names and run ids from users, made safe: a name is one or more segments of letters, digits, '.', '_', '-'
/// and ' ' separated by '/', never '.' or '..', never empty, absolute or longer than 512 characters. Anything else is
/// refused by name, so it can never become a path outside its container or run folder.
/// </summary>
public static class StoreNames
{
    public const int MaxLength = 512;

    public static string Check(string name, string what = "blob name")
    {
        if (string.IsNullOrEmpty(name) || name.Length > MaxLength)
        {
            throw new HierDiffInputException($"{what} '{name}' must have 1 to {MaxLength} characters");
        }

        foreach (string segment in name.Split('/'))
        {
            if (segment.Length == 0 || segment is "." or ".." || segment.Trim() != segment
                || !segment.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' or ' '))
            {
                throw new HierDiffInputException(
                    $"{what} '{name}' is not allowed: use '/'-separated parts of letters, digits, '.', '_', '-' and spaces, without '.' or '..' parts");
            }
        }

        return name;
    }

    /// <summary>A run id: one segment (no '/').</summary>
    public static string CheckRunId(string id)
    {
        Check(id, "run id");
        return id.Contains('/', StringComparison.Ordinal) ? throw new HierDiffInputException($"run id '{id}' must not contain '/'") : id;
    }
}
