using System.Globalization;
using System.Text;

namespace HierDiff.Models.Tokenization;

/// <summary>
/// Splits cleaned text into the words BPE works on, as <c>regex.findall</c> does with CLIP's pattern
/// <c>&lt;\|startoftext\|&gt;|&lt;\|endoftext\|&gt;|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+</c>
/// (case-insensitive): leftmost alternative first, whitespace between matches skipped.
/// </summary>
/// <remarks>
/// Written out by hand rather than with .NET's <c>Regex</c>, which classifies UTF-16 code units: a letter or digit
/// outside the Basic Multilingual Plane (𝐀, 𠀀, 𝟏) would fall into the last alternative there, while Python's
/// <c>regex</c> classifies code points. Two quirks of the case-insensitive match are kept: U+017F (long s) matches
/// the pattern's "s" ("'ſ" is a contraction), and U+0345 (combining ypogegrammeni, whose case partner ι is a
/// letter) matches no alternative at all, so it is dropped like whitespace.
/// </remarks>
internal static class ClipPreTokenizer
{
    private static readonly string[] Specials = [ClipTokenizer.StartToken, ClipTokenizer.EndToken];
    private static readonly string[] Contractions = ["s", "t", "re", "ve", "m", "ll", "d"];

    public static List<string> Split(string text)
    {
        var words = new List<string>();
        int i = 0;
        while (i < text.Length)
        {
            Rune.DecodeFromUtf16(text.AsSpan(i), out Rune rune, out int length);
            CharClass kind = Classify(rune);
            if (kind == CharClass.Skipped)
            {
                i += length;
                continue;
            }

            int end = MatchLiteral(text, i);
            if (end < 0)
            {
                end = i + length;
                if (kind != CharClass.Number)
                {
                    while (end < text.Length)
                    {
                        Rune.DecodeFromUtf16(text.AsSpan(end), out Rune next, out int nextLength);
                        if (Classify(next) != kind)
                        {
                            break;
                        }

                        end += nextLength;
                    }
                }
            }

            words.Add(text[i..end]);
            i = end;
        }

        return words;
    }

    private enum CharClass
    {
        Skipped,
        Letter,
        Number,
        Other,
    }

    private static CharClass Classify(Rune rune)
    {
        if (ClipTextCleaner.IsWhitespace(rune.Value) || rune.Value == 0x345)
        {
            return CharClass.Skipped;
        }

        return Rune.GetUnicodeCategory(rune) switch
        {
            UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
                or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => CharClass.Letter,
            UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => CharClass.Number,
            _ => CharClass.Other,
        };
    }

    /// <summary>The end of a special token or contraction starting at <paramref name="start"/>, or -1.</summary>
    private static int MatchLiteral(string text, int start)
    {
        foreach (string special in Specials)
        {
            if (MatchesIgnoringCase(text, start, special))
            {
                return start + special.Length;
            }
        }

        if (text[start] == '\'')
        {
            foreach (string contraction in Contractions)
            {
                if (MatchesIgnoringCase(text, start + 1, contraction))
                {
                    return start + 1 + contraction.Length;
                }
            }
        }

        return -1;
    }

    /// <summary>Simple case folding, as the <c>regex</c> module matches with IGNORECASE: ASCII letters and ſ ~ s.</summary>
    private static bool MatchesIgnoringCase(string text, int start, string literal)
    {
        if (start + literal.Length > text.Length)
        {
            return false;
        }

        for (int k = 0; k < literal.Length; k++)
        {
            char c = text[start + k];
            char p = literal[k];
            if (c != p && !(c is >= 'A' and <= 'Z' && c + ('a' - 'A') == p) && !(p == 's' && c == 'ſ'))
            {
                return false;
            }
        }

        return true;
    }
}
