using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace HierDiff.Models.Tests.Images;

/// <summary>A PNG decoder for tests (8-bit RGB, all five filter types), written from the PNG specification.</summary>
internal static class PngReader
{
    public sealed record Png(int Width, int Height, byte[] Rgb, Dictionary<string, string> Text);

    public static Png Read(byte[] bytes)
    {
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }, bytes[..8]);
        int pos = 8, width = 0, height = 0;
        var idat = new MemoryStream();
        var text = new Dictionary<string, string>();
        while (pos < bytes.Length)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(pos));
            string type = Encoding.ASCII.GetString(bytes, pos + 4, 4);
            byte[] data = bytes[(pos + 8)..(pos + 8 + length)];
            pos += 12 + length;
            switch (type)
            {
                case "IHDR":
                    width = BinaryPrimitives.ReadInt32BigEndian(data);
                    height = BinaryPrimitives.ReadInt32BigEndian(data.AsSpan(4));
                    Assert.Equal(new byte[] { 8, 2, 0, 0, 0 }, data[8..13]);
                    break;
                case "IDAT":
                    idat.Write(data);
                    break;
                case "tEXt":
                    {
                        int zero = Array.IndexOf(data, (byte)0);
                        text[Encoding.Latin1.GetString(data, 0, zero)] = Encoding.Latin1.GetString(data, zero + 1, data.Length - zero - 1);
                        break;
                    }

                case "iTXt":
                    {
                        int zero = Array.IndexOf(data, (byte)0);
                        int language = Array.IndexOf(data, (byte)0, zero + 3);
                        int translated = Array.IndexOf(data, (byte)0, language + 1);
                        text[Encoding.Latin1.GetString(data, 0, zero)] = Encoding.UTF8.GetString(data, translated + 1, data.Length - translated - 1);
                        break;
                    }
            }
        }

        idat.Position = 0;
        using var zlib = new ZLibStream(idat, CompressionMode.Decompress);
        var raw = new MemoryStream();
        zlib.CopyTo(raw);
        byte[] filtered = raw.ToArray();
        int stride = width * 3;
        var rgb = new byte[stride * height];
        for (int y = 0; y < height; y++)
        {
            byte filter = filtered[y * (stride + 1)];
            for (int x = 0; x < stride; x++)
            {
                int a = x >= 3 ? rgb[(y * stride) + x - 3] : 0;
                int b = y > 0 ? rgb[((y - 1) * stride) + x] : 0;
                int c = x >= 3 && y > 0 ? rgb[((y - 1) * stride) + x - 3] : 0;
                int value = filtered[(y * (stride + 1)) + 1 + x];
                value += filter switch
                {
                    0 => 0,
                    1 => a,
                    2 => b,
                    3 => (a + b) / 2,
                    4 => Paeth(a, b, c),
                    _ => throw new InvalidDataException($"filter {filter}"),
                };
                rgb[(y * stride) + x] = (byte)value;
            }
        }

        return new Png(width, height, rgb, text);
    }

    private static int Paeth(int a, int b, int c)
    {
        int p = a + b - c;
        int pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }
}
