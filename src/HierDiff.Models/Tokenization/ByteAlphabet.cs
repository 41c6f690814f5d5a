namespace HierDiff.Models.Tokenization;

/// <summary>
/// GPT-2's <c>bytes_to_unicode</c>, which CLIP reuses: each of the 256 byte values stands for one printable
/// character, so that BPE symbols are strings without whitespace or control characters. The printable bytes
/// <c>!</c>..<c>~</c>, <c>¡</c>..<c>¬</c> and <c>®</c>..<c>ÿ</c> stand for themselves; the other 68 bytes, in order,
/// for U+0100, U+0101, ...
/// </summary>
internal static class ByteAlphabet
{
    /// <summary>The character standing for each byte value.</summary>
    public static readonly char[] CharOfByte = BuildCharOfByte();

    /// <summary>The byte value each alphabet character stands for; -1 for characters outside the alphabet.</summary>
    public static readonly short[] ByteOfChar = BuildByteOfChar();

    /// <summary>True when <paramref name="c"/> is one of the 256 alphabet characters.</summary>
    public static bool Contains(char c) => c < ByteOfChar.Length && ByteOfChar[c] >= 0;

    private static bool StandsForItself(int b) => b is >= '!' and <= '~' or >= '¡' and <= '¬' or >= '®' and <= 'ÿ';

    private static char[] BuildCharOfByte()
    {
        var chars = new char[256];
        int next = 0;
        for (int b = 0; b < 256; b++)
        {
            chars[b] = StandsForItself(b) ? (char)b : (char)(256 + next++);
        }

        return chars;
    }

    private static short[] BuildByteOfChar()
    {
        var bytes = new short[512];
        Array.Fill(bytes, (short)-1);
        for (int b = 0; b < 256; b++)
        {
            bytes[CharOfByte[b]] = (short)b;
        }

        return bytes;
    }
}
