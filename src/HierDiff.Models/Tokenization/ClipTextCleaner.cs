using System.Globalization;
using System.Net;
using System.Text;

namespace HierDiff.Models.Tokenization;

/// <summary>
/// The text cleaning of OpenAI's <c>simple_tokenizer</c> before BPE:
/// <c>whitespace_clean(basic_clean(text)).lower()</c>, with ftfy's <c>fix_text</c> left out, as in the reference.
/// </summary>
/// <remarks>
/// HTML entities are decoded twice with <see cref="WebUtility.HtmlDecode(string?)"/>, which knows the HTML 4 named
/// entities (and <c>&amp;apos;</c>) and numeric references: <c>&amp;amp;</c>, <c>&amp;lt;</c>, <c>&amp;#39;</c>,
/// <c>&amp;#x27;</c>, <c>&amp;nbsp;</c> and the like give what Python's <c>html.unescape</c> gives. These forms, which
/// <c>html.unescape</c> also decodes, are left as they are: HTML5-only names (<c>&amp;NewLine;</c>, <c>&amp;AMP;</c>),
/// names without their semicolon (<c>&amp;copy2024</c>; so in "light&amp;ethereal" Python reads <c>&amp;eth</c> as
/// ð), numeric references without a semicolon (<c>&amp;#65</c>); and references to code points that HTML replaces
/// differ (<c>&amp;#128;</c> is € in Python, U+0080 here; <c>&amp;#0;</c> is U+FFFD there, U+0000 here).
/// Whitespace is what Python's <c>regex</c> module calls <c>\s</c> (the Unicode White_Space characters); the ends are
/// stripped as <c>str.strip</c> does (which also drops U+001C..U+001F). Lower-casing follows <c>str.lower</c>: U+0130
/// becomes "i" + U+0307 and capital sigma becomes final sigma at the end of a word. Character properties are .NET's:
/// for characters assigned since Unicode 14 (Python 3.11) the result may differ from Python's.
/// </remarks>
internal static class ClipTextCleaner
{
    public static string Clean(string text)
    {
        string decoded = WebUtility.HtmlDecode(WebUtility.HtmlDecode(text));
        return PythonLower(CollapseWhitespace(decoded));
    }

    /// <summary>Python <c>regex</c>'s <c>\s</c>: the Unicode White_Space property.</summary>
    public static bool IsWhitespace(int c) => c is >= 0x09 and <= 0x0D or 0x20 or 0x85 or 0xA0 or 0x1680
        or >= 0x2000 and <= 0x200A or 0x2028 or 0x2029 or 0x202F or 0x205F or 0x3000;

    /// <summary>Python's <c>str.isspace</c>, used by <c>str.strip</c>: White_Space and the separators U+001C..U+001F.</summary>
    private static bool IsStripped(char c) => IsWhitespace(c) || c is >= '\u001C' and <= '\u001F';

    /// <summary>Runs of whitespace become one space; the ends are stripped.</summary>
    private static string CollapseWhitespace(string text)
    {
        var builder = new StringBuilder(text.Length);
        bool inWhitespace = false;
        foreach (char c in text)
        {
            if (IsWhitespace(c))
            {
                inWhitespace = true;
                continue;
            }

            if (inWhitespace)
            {
                builder.Append(' ');
                inWhitespace = false;
            }

            builder.Append(c);
        }

        int start = 0;
        int end = builder.Length;
        while (start < end && IsStripped(builder[start]))
        {
            start++;
        }

        while (end > start && IsStripped(builder[end - 1]))
        {
            end--;
        }

        return builder.ToString(start, end - start);
    }

    /// <summary>Python's <c>str.lower</c>: full lower-case mapping by code point, with the final-sigma rule.</summary>
    internal static string PythonLower(string text)
    {
        var builder = new StringBuilder(text.Length);
        int i = 0;
        while (i < text.Length)
        {
            Rune.DecodeFromUtf16(text.AsSpan(i), out Rune rune, out int length);
            if (rune.Value == 0x130)
            {
                builder.Append("i\u0307");
            }
            else if (rune.Value == 0x3A3)
            {
                builder.Append(IsFinalSigma(text, i) ? 'ς' : 'σ');
            }
            else
            {
                builder.Append(Rune.ToLowerInvariant(rune).ToString());
            }

            i += length;
        }

        return builder.ToString();
    }

    /// <summary>
    /// Unicode's Final_Sigma context as CPython tests it: a cased letter before the sigma (case-ignorable characters
    /// skipped) and none after it.
    /// </summary>
    private static bool IsFinalSigma(string text, int index)
    {
        int j = index;
        Rune before = default;
        bool found = false;
        while (j > 0)
        {
            Rune.DecodeLastFromUtf16(text.AsSpan(0, j), out before, out int length);
            j -= length;
            if (!IsCaseIgnorable(before))
            {
                found = true;
                break;
            }
        }

        if (!found || !IsCased(before))
        {
            return false;
        }

        j = index + 1;
        while (j < text.Length)
        {
            Rune.DecodeFromUtf16(text.AsSpan(j), out Rune after, out int length);
            j += length;
            if (!IsCaseIgnorable(after))
            {
                return !IsCased(after);
            }
        }

        return true;
    }

    /// <summary>Case_Ignorable: Mn, Me, Cf, Lm, Sk, and the word-break MidLetter, MidNumLet and Single_Quote characters.</summary>
    private static bool IsCaseIgnorable(Rune rune) => Rune.GetUnicodeCategory(rune) switch
    {
        UnicodeCategory.NonSpacingMark or UnicodeCategory.EnclosingMark or UnicodeCategory.Format
            or UnicodeCategory.ModifierLetter or UnicodeCategory.ModifierSymbol => true,
        _ => rune.Value is 0x27 or 0x2E or 0x3A or 0xB7 or 0x387 or 0x55F or 0x5F4 or 0x2018 or 0x2019 or 0x2024
            or 0x2027 or 0xFE13 or 0xFE52 or 0xFE55 or 0xFF07 or 0xFF0E or 0xFF1A,
    };

    /// <summary>Cased: Lu, Ll, Lt, and the Other_Lowercase and Other_Uppercase characters.</summary>
    private static bool IsCased(Rune rune) => Rune.GetUnicodeCategory(rune) switch
    {
        UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter => true,
        _ => rune.Value is 0xAA or 0xBA or >= 0x2B0 and <= 0x2B8 or 0x2C0 or 0x2C1 or >= 0x2E0 and <= 0x2E4 or 0x345
            or 0x37A or 0x10FC or >= 0x1D2C and <= 0x1D6A or 0x1D78 or >= 0x1D9B and <= 0x1DBF or 0x2071 or 0x207F
            or >= 0x2090 and <= 0x209C or >= 0x2160 and <= 0x217F or >= 0x24B6 and <= 0x24E9 or 0x2C7C or 0x2C7D
            or 0xA69C or 0xA69D or 0xA770 or 0xA7F8 or 0xA7F9 or >= 0xAB5C and <= 0xAB5F or 0xAB69 or 0x10780
            or >= 0x10783 and <= 0x107BA or >= 0x1E030 and <= 0x1E06D or >= 0x1F130 and <= 0x1F149
            or >= 0x1F150 and <= 0x1F169 or >= 0x1F170 and <= 0x1F189,
    };
}
