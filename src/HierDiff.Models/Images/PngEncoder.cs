using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace HierDiff.Models.Images;

/// <summary>
/// Writes 8-bit RGB PNG files with tEXt metadata (prompt, seed, steps, ...). Written here rather than by an imaging
/// library so the bytes depend on nothing but the pixels and the text: the same run gives the same files on every
/// host (the command line and the serverless workers), which the tests compare byte for byte.
/// </summary>
public static class PngEncoder
{
    private static readonly byte[] Signature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];
    private static readonly uint[] CrcTable = MakeCrcTable();

    /// <param name="text">tEXt entries: Latin-1 keywords of 1-79 characters; values are written as UTF-8 in iTXt
    /// chunks when they are not Latin-1, so prompts in any script survive.</param>
    public static byte[] Encode(RgbImage image, IEnumerable<KeyValuePair<string, string>>? text = null)
    {
        using var output = new MemoryStream();
        output.Write(Signature);

        Span<byte> header = stackalloc byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, image.Width);
        BinaryPrimitives.WriteInt32BigEndian(header[4..], image.Height);
        header[8] = 8;  // bit depth
        header[9] = 2;  // colour type: RGB
        header[10] = 0; // deflate
        header[11] = 0; // adaptive filtering
        header[12] = 0; // no interlace
        WriteChunk(output, "IHDR", header);

        foreach ((string key, string value) in text ?? [])
        {
            WriteText(output, key, value);
        }

        WriteChunk(output, "IDAT", Compress(image));
        WriteChunk(output, "IEND", []);
        return output.ToArray();
    }

    private static void WriteText(Stream output, string key, string value)
    {
        if (key.Length is < 1 or > 79 || key.Any(c => c > 0xFF))
        {
            throw new ArgumentException($"'{key}' is not a PNG text keyword", nameof(key));
        }

        bool latin1 = value.All(c => c <= 0xFF && c != 0);
        using var chunk = new MemoryStream();
        chunk.Write(Encoding.Latin1.GetBytes(key));
        chunk.WriteByte(0);
        if (latin1)
        {
            chunk.Write(Encoding.Latin1.GetBytes(value));
            WriteChunk(output, "tEXt", chunk.ToArray());
            return;
        }

        // iTXt: keyword, 0, compression flag 0, method 0, empty language tag, 0, empty translated keyword, 0, UTF-8 text.
        chunk.Write([0, 0, 0, 0]);
        chunk.Write(Encoding.UTF8.GetBytes(value.Replace("\0", "", StringComparison.Ordinal)));
        WriteChunk(output, "iTXt", chunk.ToArray());
    }

    /// <summary>Each row filtered with "Sub" (the difference from the pixel to the left), then zlib.</summary>
    private static byte[] Compress(RgbImage image)
    {
        int stride = image.Width * 3;
        var filtered = new byte[(stride + 1) * image.Height];
        for (int y = 0; y < image.Height; y++)
        {
            int row = y * (stride + 1);
            filtered[row] = 1;
            for (int x = 0; x < stride; x++)
            {
                byte left = x >= 3 ? image.Pixels[(y * stride) + x - 3] : (byte)0;
                filtered[row + 1 + x] = (byte)(image.Pixels[(y * stride) + x] - left);
            }
        }

        using var compressed = new MemoryStream();
        using (var zlib = new ZLibStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
        {
            zlib.Write(filtered);
        }

        return compressed.ToArray();
    }

    private static void WriteChunk(Stream output, string type, ReadOnlySpan<byte> data)
    {
        Span<byte> buffer = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(buffer, data.Length);
        output.Write(buffer);
        byte[] typeBytes = Encoding.ASCII.GetBytes(type);
        output.Write(typeBytes);
        output.Write(data);
        uint crc = Crc(Crc(0xFFFFFFFF, typeBytes), data) ^ 0xFFFFFFFF;
        BinaryPrimitives.WriteUInt32BigEndian(buffer, crc);
        output.Write(buffer);
    }

    private static uint Crc(uint crc, ReadOnlySpan<byte> data)
    {
        foreach (byte b in data)
        {
            crc = CrcTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
        }

        return crc;
    }

    private static uint[] MakeCrcTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
            }

            table[n] = c;
        }

        return table;
    }
}
