using System.Buffers.Binary;
using System.Text;

namespace HierDiff.TestModels;

/// <summary>What tests read from the PNGs a run writes, without decoding them.</summary>
public static class PngFiles
{
    /// <summary>Width and height from the IHDR chunk, which a PNG starts with.</summary>
    public static (int Width, int Height) Size(byte[] png) =>
        (BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)), BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)));

    /// <summary>The compressed pixels (IDAT): equal exactly when the pixels are, compression being deterministic;
    /// the text chunks (prompt, settings) are left out.</summary>
    public static byte[] Pixels(byte[] png)
    {
        var data = new List<byte>();
        for (int pos = 8; pos < png.Length;)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(pos));
            if (Encoding.ASCII.GetString(png, pos + 4, 4) == "IDAT")
            {
                data.AddRange(png.AsSpan(pos + 8, length).ToArray());
            }

            pos += 12 + length;
        }

        return [.. data];
    }
}
