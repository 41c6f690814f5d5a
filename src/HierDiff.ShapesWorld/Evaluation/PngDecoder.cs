using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace HierDiff.ShapesWorld.Evaluation;

/// <summary>An 8-bit RGB image, row by row, three bytes a pixel.</summary>
public sealed record PngImage(int Width, int Height, byte[] Rgb)
{
    /// <summary>
    /// The image at <paramref name="size"/> x <paramref name="size"/>: itself where it already is, else each new pixel
    /// the area-weighted mean of the old pixels it covers (or the nearest one, when enlarging).
    /// </summary>
    public byte[] Resized(int size)
    {
        if (Width == size && Height == size)
        {
            return Rgb;
        }

        var result = new byte[size * size * 3];
        double sx = (double)Width / size, sy = (double)Height / size;
        for (int ty = 0; ty < size; ty++)
        {
            double y0 = ty * sy, y1 = (ty + 1) * sy;
            for (int tx = 0; tx < size; tx++)
            {
                double x0 = tx * sx, x1 = (tx + 1) * sx;
                double r = 0, g = 0, b = 0, weight = 0;
                for (int y = (int)Math.Floor(y0); y < Math.Min(Height, (int)Math.Ceiling(y1)); y++)
                {
                    double wy = Math.Min(y + 1, y1) - Math.Max(y, y0);
                    for (int x = (int)Math.Floor(x0); x < Math.Min(Width, (int)Math.Ceiling(x1)); x++)
                    {
                        double w = wy * (Math.Min(x + 1, x1) - Math.Max(x, x0));
                        int i = ((y * Width) + x) * 3;
                        r += w * Rgb[i];
                        g += w * Rgb[i + 1];
                        b += w * Rgb[i + 2];
                        weight += w;
                    }
                }

                int t = ((ty * size) + tx) * 3;
                result[t] = (byte)Math.Round(r / weight);
                result[t + 1] = (byte)Math.Round(g / weight);
                result[t + 2] = (byte)Math.Round(b / weight);
            }
        }

        return result;
    }
}

/// <summary>
/// Reads PNG files of 8 bits a sample: RGB (what <c>hierdiff generate</c> writes), and also grey, grey with alpha, RGBA
/// (alpha dropped) and palette images; not interlaced. All five filter types; zlib by <see cref="ZLibStream"/>.
/// </summary>
public static class PngDecoder
{
    private static readonly byte[] Signature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <exception cref="InvalidDataException">Not a PNG file this decoder reads, or a damaged one.</exception>
    public static PngImage Decode(ReadOnlySpan<byte> png)
    {
        if (png.Length < Signature.Length || !png[..Signature.Length].SequenceEqual(Signature))
        {
            throw new InvalidDataException("not a PNG file (no PNG signature)");
        }

        int width = 0, height = 0, colourType = -1;
        byte[]? palette = null;
        using var compressed = new MemoryStream();
        int at = Signature.Length;
        bool ended = false;
        while (!ended)
        {
            if (at + 12 > png.Length)
            {
                throw new InvalidDataException("PNG file ends inside a chunk (no IEND)");
            }

            int length = BinaryPrimitives.ReadInt32BigEndian(png[at..]);
            string type = Encoding.ASCII.GetString(png.Slice(at + 4, 4));
            if (length < 0 || at + 12 + (long)length > png.Length)
            {
                throw new InvalidDataException($"PNG chunk {type} runs past the end of the file");
            }

            ReadOnlySpan<byte> data = png.Slice(at + 8, length);
            switch (type)
            {
                case "IHDR":
                    if (length != 13)
                    {
                        throw new InvalidDataException("PNG header has the wrong length");
                    }

                    width = BinaryPrimitives.ReadInt32BigEndian(data);
                    height = BinaryPrimitives.ReadInt32BigEndian(data[4..]);
                    int depth = data[8];
                    colourType = data[9];
                    if (width <= 0 || height <= 0 || (long)width * height > 1 << 26)
                    {
                        throw new InvalidDataException($"PNG size {width} x {height} is not supported");
                    }

                    if (depth != 8 || colourType is not (0 or 2 or 3 or 4 or 6))
                    {
                        throw new InvalidDataException($"PNG with {depth}-bit samples of colour type {colourType} is not supported (8-bit grey, RGB, palette or with alpha)");
                    }

                    if (data[10] != 0 || data[11] != 0 || data[12] != 0)
                    {
                        throw new InvalidDataException("interlaced or non-standard PNG is not supported");
                    }

                    break;
                case "PLTE":
                    palette = data.ToArray();
                    break;
                case "IDAT":
                    compressed.Write(data);
                    break;
                case "IEND":
                    ended = true;
                    break;
                default:
                    break;
            }

            at += 12 + length;
        }

        if (colourType < 0)
        {
            throw new InvalidDataException("PNG file has no header (IHDR)");
        }

        if (colourType == 3 && palette is null)
        {
            throw new InvalidDataException("palette PNG without a palette (PLTE)");
        }

        int channels = colourType switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, _ => 4 };
        int stride = width * channels;
        byte[] raw = Inflate(compressed, (stride + 1) * height);
        byte[] samples = Unfilter(raw, stride, height, channels);
        return new PngImage(width, height, ToRgb(samples, width * height, colourType, palette));
    }

    private static byte[] Inflate(MemoryStream compressed, int expected)
    {
        compressed.Position = 0;
        var raw = new byte[expected];
        try
        {
            using var zlib = new ZLibStream(compressed, CompressionMode.Decompress);
            int read = 0;
            while (read < expected)
            {
                int n = zlib.Read(raw, read, expected - read);
                if (n == 0)
                {
                    throw new InvalidDataException($"PNG image data is short: {read} of {expected} bytes");
                }

                read += n;
            }
        }
        catch (IOException e)
        {
            throw new InvalidDataException("PNG image data is not valid zlib: " + e.Message, e);
        }

        return raw;
    }

    /// <summary>Undoes the per-row filters (none, sub, up, average, Paeth).</summary>
    private static byte[] Unfilter(byte[] raw, int stride, int height, int bpp)
    {
        var result = new byte[stride * height];
        for (int y = 0; y < height; y++)
        {
            int filter = raw[y * (stride + 1)];
            int src = (y * (stride + 1)) + 1;
            int row = y * stride;
            int prev = row - stride;
            for (int x = 0; x < stride; x++)
            {
                int a = x >= bpp ? result[row + x - bpp] : 0;
                int b = y > 0 ? result[prev + x] : 0;
                int c = x >= bpp && y > 0 ? result[prev + x - bpp] : 0;
                int predictor = filter switch
                {
                    0 => 0,
                    1 => a,
                    2 => b,
                    3 => (a + b) / 2,
                    4 => Paeth(a, b, c),
                    _ => throw new InvalidDataException($"PNG row {y} has unknown filter type {filter}"),
                };
                result[row + x] = (byte)(raw[src + x] + predictor);
            }
        }

        return result;
    }

    private static int Paeth(int a, int b, int c)
    {
        int p = a + b - c;
        int pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }

    private static byte[] ToRgb(byte[] samples, int pixels, int colourType, byte[]? palette)
    {
        if (colourType == 2)
        {
            return samples;
        }

        var rgb = new byte[pixels * 3];
        for (int i = 0; i < pixels; i++)
        {
            switch (colourType)
            {
                case 0:
                case 4:
                    byte grey = samples[i * (colourType == 0 ? 1 : 2)];
                    rgb[i * 3] = rgb[(i * 3) + 1] = rgb[(i * 3) + 2] = grey;
                    break;
                case 3:
                    int entry = samples[i] * 3;
                    if (entry + 2 >= palette!.Length)
                    {
                        throw new InvalidDataException($"PNG pixel uses palette entry {samples[i]}, past the palette's end");
                    }

                    rgb[i * 3] = palette[entry];
                    rgb[(i * 3) + 1] = palette[entry + 1];
                    rgb[(i * 3) + 2] = palette[entry + 2];
                    break;
                default:
                    rgb[i * 3] = samples[i * 4];
                    rgb[(i * 3) + 1] = samples[(i * 4) + 1];
                    rgb[(i * 3) + 2] = samples[(i * 4) + 2];
                    break;
            }
        }

        return rgb;
    }
}
