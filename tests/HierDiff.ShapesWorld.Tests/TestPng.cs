using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace HierDiff.ShapesWorld.Tests;

/// <summary>A minimal PNG writer for the tests: 8-bit RGB or RGBA, each row with the filter type chosen by the caller.</summary>
internal static class TestPng
{
    public static byte[] Encode(int width, int height, byte[] pixels, int channels = 3, Func<int, int>? filterOfRow = null)
    {
        filterOfRow ??= y => y % 5;
        int stride = width * channels;
        var filtered = new byte[(stride + 1) * height];
        for (int y = 0; y < height; y++)
        {
            int filter = filterOfRow(y);
            filtered[y * (stride + 1)] = (byte)filter;
            for (int x = 0; x < stride; x++)
            {
                int a = x >= channels ? pixels[(y * stride) + x - channels] : 0;
                int b = y > 0 ? pixels[((y - 1) * stride) + x] : 0;
                int c = x >= channels && y > 0 ? pixels[((y - 1) * stride) + x - channels] : 0;
                int predictor = filter switch
                {
                    1 => a,
                    2 => b,
                    3 => (a + b) / 2,
                    4 => Paeth(a, b, c),
                    _ => 0,
                };
                filtered[(y * (stride + 1)) + 1 + x] = (byte)(pixels[(y * stride) + x] - predictor);
            }
        }

        using var compressed = new MemoryStream();
        using (var zlib = new ZLibStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
        {
            zlib.Write(filtered);
        }

        using var png = new MemoryStream();
        png.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8;
        header[9] = (byte)(channels == 4 ? 6 : 2);
        Chunk(png, "IHDR", header);
        Chunk(png, "tEXt", Encoding.Latin1.GetBytes("prompt\0a test"));
        // Two IDAT chunks: a decoder must join them.
        byte[] data = compressed.ToArray();
        Chunk(png, "IDAT", data.AsSpan(0, data.Length / 2));
        Chunk(png, "IDAT", data.AsSpan(data.Length / 2));
        Chunk(png, "IEND", []);
        return png.ToArray();
    }

    private static int Paeth(int a, int b, int c)
    {
        int p = a + b - c;
        int pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }

    private static void Chunk(Stream output, string type, ReadOnlySpan<byte> data)
    {
        var buffer = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(buffer, data.Length);
        output.Write(buffer);
        byte[] typeBytes = Encoding.ASCII.GetBytes(type);
        output.Write(typeBytes);
        output.Write(data);
        uint crc = 0xFFFFFFFF;
        foreach (byte b in typeBytes.Concat(data.ToArray()))
        {
            crc ^= b;
            for (int k = 0; k < 8; k++)
            {
                crc = (crc & 1) != 0 ? 0xEDB88320 ^ (crc >> 1) : crc >> 1;
            }
        }

        BinaryPrimitives.WriteUInt32BigEndian(buffer, crc ^ 0xFFFFFFFF);
        output.Write(buffer);
    }
}
