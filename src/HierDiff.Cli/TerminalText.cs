using System.Text;

namespace HierDiff.Cli;

/// <summary>Text from a user's files made safe for a terminal: control characters (ESC, BEL, ...), which could move the
/// cursor, recolour or retitle the terminal, are shown as \u escapes instead.</summary>
internal static class TerminalText
{
    public static string Escape(string text)
    {
        if (!text.Any(IsControl))
        {
            return text;
        }

        var escaped = new StringBuilder(text.Length + 16);
        foreach (char c in text)
        {
            escaped.Append(IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString());
        }

        return escaped.ToString();
    }

    /// <summary>C0/C1 controls, and the bidirectional overrides that make a terminal show text out of order.</summary>
    private static bool IsControl(char c) => char.IsControl(c) || c is (>= '\u202a' and <= '\u202e') or (>= '\u2066' and <= '\u2069');
}
