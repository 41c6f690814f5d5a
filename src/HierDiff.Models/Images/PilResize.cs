namespace HierDiff.Models.Images;

/// <summary>
/// Pillow's <c>Image.resize(size, Image.BICUBIC)</c> of an 8-bit RGB image, bit for bit (Pillow's
/// src/libImaging/Resample.c, unchanged in this respect from 9.x to 11.x; checked against Debian's python3-pil 9.4.0 by
/// tools/make-clip-preprocessing-reference.py):
/// <list type="bullet">
/// <item>separable: a horizontal pass, then a vertical one, each skipped where that side keeps its size;</item>
/// <item>each output pixel's centre maps to (x + 0.5) x scale in the input; the bicubic kernel (a = -0.5) is
/// stretched by the scale when shrinking, so shrinking averages (antialiasing);</item>
/// <item>the weights are normalised to sum 1, turned into 22-bit fixed point, and each pass rounds and clips to 0-255,
/// so the intermediate image is 8-bit too.</item>
/// </list>
/// </summary>
public static class PilResize
{
    private const int PrecisionBits = 32 - 8 - 2;
    private const double Support = 2.0;

    public static RgbImage Bicubic(RgbImage image, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        RgbImage result = image;
        if (width != image.Width)
        {
            result = Pass(result, Kernel.For(image.Width, width), horizontal: true);
        }

        if (height != image.Height)
        {
            result = Pass(result, Kernel.For(image.Height, height), horizontal: false);
        }

        return ReferenceEquals(result, image) ? image with { Pixels = (byte[])image.Pixels.Clone() } : result;
    }

    /// <summary>Pillow's bicubic filter (a = -0.5), term for term.</summary>
    private static double Filter(double x)
    {
        const double a = -0.5;
        if (x < 0.0)
        {
            x = -x;
        }

        if (x < 1.0)
        {
            return ((((a + 2.0) * x) - (a + 3.0)) * x * x) + 1;
        }

        if (x < 2.0)
        {
            return ((((((x - 5) * x) + 8) * x) - 4) * a);
        }

        return 0.0;
    }

    /// <summary>One pass along rows (horizontal) or columns, through the fixed-point weights of <paramref name="kernel"/>.</summary>
    private static RgbImage Pass(RgbImage input, Kernel kernel, bool horizontal)
    {
        int outWidth = horizontal ? kernel.OutSize : input.Width;
        int outHeight = horizontal ? input.Height : kernel.OutSize;
        var output = new byte[outWidth * outHeight * 3];
        byte[] src = input.Pixels;
        for (int y = 0; y < outHeight; y++)
        {
            for (int x = 0; x < outWidth; x++)
            {
                int o = horizontal ? x : y;
                int first = kernel.First[o];
                int count = kernel.Count[o];
                int weights = o * kernel.Size;
                for (int c = 0; c < 3; c++)
                {
                    int sum = 1 << (PrecisionBits - 1);
                    for (int i = 0; i < count; i++)
                    {
                        int at = horizontal ? ((y * input.Width) + first + i) * 3 : ((((first + i) * input.Width) + x) * 3);
                        sum += src[at + c] * kernel.Weights[weights + i];
                    }

                    output[(((y * outWidth) + x) * 3) + c] = (byte)Math.Clamp(sum >> PrecisionBits, 0, 255);
                }
            }
        }

        return new RgbImage(outWidth, outHeight, output);
    }

    /// <summary>For each output pixel, the first input pixel it reads, how many, and their fixed-point weights
    /// (<see cref="Size"/> slots per output pixel), as Pillow's precompute_coeffs and normalize_coeffs_8bpc make them.</summary>
    private sealed record Kernel(int OutSize, int Size, int[] First, int[] Count, int[] Weights)
    {
        public static Kernel For(int inSize, int outSize)
        {
            double scale = (double)inSize / outSize;
            double filterScale = Math.Max(scale, 1.0);
            double support = Support * filterScale;
            int size = ((int)Math.Ceiling(support) * 2) + 1;
            var first = new int[outSize];
            var count = new int[outSize];
            var weights = new int[outSize * size];
            var k = new double[size];
            for (int o = 0; o < outSize; o++)
            {
                double center = (o + 0.5) * scale;
                double inverse = 1.0 / filterScale;
                int min = Math.Max((int)(center - support + 0.5), 0);
                int n = Math.Min((int)(center + support + 0.5), inSize) - min;
                double total = 0.0;
                for (int i = 0; i < n; i++)
                {
                    k[i] = Filter((i + min - center + 0.5) * inverse);
                    total += k[i];
                }

                for (int i = 0; i < n; i++)
                {
                    double w = total != 0.0 ? k[i] / total : k[i];
                    weights[(o * size) + i] = w < 0 ? (int)(-0.5 + (w * (1 << PrecisionBits))) : (int)(0.5 + (w * (1 << PrecisionBits)));
                }

                first[o] = min;
                count[o] = n;
            }

            return new Kernel(outSize, size, first, count, weights);
        }
    }
}
