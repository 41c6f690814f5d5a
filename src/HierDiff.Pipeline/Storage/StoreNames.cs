using System.Buffers;
using System.Globalization;
using System.Text;
using HierDiff.Core;

namespace HierDiff.Pipeline.Storage;

/// <summary>
/// Blob names and run ids from users, made safe. A name is one or more segments separated by '/', of letters and
/// digits in any script, spaces and ordinary punctuation (<c>prompts (1).txt</c>, <c>café.txt</c>, <c>a+b, c'd.txt</c>).
/// Refused, by name, so that nothing becomes a path outside its container or run folder or means something else
/// to a file system or URL: empty, '.' or '..' segments, segments that start or end with a space or end with '.',
/// a backslash, <c>: * ? &lt; &gt; | # %</c>, control and format characters (bidi overrides, zero-width), look-alikes
/// that compatibility mappings turn into '.', '/', '\' or ':' ("‥", "／"), lone surrogates, and names over 512
/// characters or with a segment over 255 UTF-8 bytes.
/// </summary>
public static class StoreNames
{
    public const int MaxLength = 512;
    public const int MaxSegmentBytes = 255;

    // Windows path syntax and wildcards, and what URLs and URL decoding give meaning to.
    private const string Forbidden = "\\:*?<>|#%";

    // Look-alikes of '.', '/', '\\' and ':' that compatibility mappings (NFKC, Windows "best fit") turn into them.
    private const string LookAlikes = "\u2024\u2025\uFE52\uFF0E\u2044\u2215\u29F8\uFF0F\u2216\u29F5\u29F9\uFE68\uFF3C\uFE55\uFF1A";

    public static string Check(string name, string what = "blob name")
    {
        if (string.IsNullOrEmpty(name) || name.Length > MaxLength)
        {
            throw new HierDiffInputException($"{what} '{Shown(name)}' must have 1 to {MaxLength} characters");
        }

        if (Problem(name) is string problem)
        {
            throw new HierDiffInputException(
                $"{what} '{Shown(name)}' is not allowed ({problem}): use '/'-separated parts of letters, digits, spaces and punctuation other than \\ : * ? < > | # %, without '.' or '..' parts");
        }

        return name;
    }

    /// <summary>A run id: one segment (no '/').</summary>
    public static string CheckRunId(string id)
    {
        Check(id, "run id");
        return id.Contains('/', StringComparison.Ordinal) ? throw new HierDiffInputException($"run id '{id}' must not contain '/'") : id;
    }

    /// <summary>What is wrong with a name, or null.</summary>
    private static string? Problem(string name)
    {
        foreach (string segment in name.Split('/'))
        {
            if (segment.Length == 0)
            {
                return "an empty part";
            }

            if (segment is "." or ".." || segment.EndsWith('.'))
            {
                return "a part that is or ends with '.'";
            }

            if (segment.Trim() != segment)
            {
                return "a part that starts or ends with a space";
            }

            if (Encoding.UTF8.GetByteCount(segment) > MaxSegmentBytes)
            {
                return $"a part over {MaxSegmentBytes} bytes";
            }

            for (int i = 0; i < segment.Length;)
            {
                if (Rune.DecodeFromUtf16(segment.AsSpan(i), out Rune rune, out int used) != OperationStatus.Done)
                {
                    return "a lone surrogate";
                }

                if (!Allowed(rune))
                {
                    return $"the character U+{rune.Value:X4}";
                }

                i += used;
            }
        }

        return null;
    }

    private static bool Allowed(Rune rune)
    {
        if (rune.IsAscii)
        {
            char c = (char)rune.Value;
            return c == ' ' || (c > ' ' && c < 0x7f && !Forbidden.Contains(c));
        }

        if (rune.IsBmp && LookAlikes.Contains((char)rune.Value))
        {
            return false;
        }

        return Rune.GetUnicodeCategory(rune) switch
        {
            UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse
                or UnicodeCategory.OtherNotAssigned or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator
                or UnicodeCategory.SpaceSeparator => false,
            _ => true,
        };
    }

    /// <summary>A name for an error message: control characters escaped, so the message stays one line.</summary>
    private static string Shown(string name) =>
        string.Concat(name.Select(c => char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString()));
}
