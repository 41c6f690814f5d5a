namespace HierDiff.Models.Images;

/// <summary>An 8-bit RGB image, row by row, three bytes a pixel.</summary>
public sealed record RgbImage(int Width, int Height, byte[] Pixels)
{
    /// <summary>
    /// From a decoder's planar output (3 x height x width, values in [-1, 1]) the way diffusers makes PIL images:
    /// (x / 2 + 0.5) clamped to [0, 1], times 255, rounded half to even.
    /// </summary>
    public static RgbImage FromPlanar(ReadOnlySpan<float> planes, int height, int width)
    {
        int plane = height * width;
        var pixels = new byte[plane * 3];
        for (int c = 0; c < 3; c++)
        {
            for (int i = 0; i < plane; i++)
            {
                float unit = Math.Clamp((planes[(c * plane) + i] / 2f) + 0.5f, 0f, 1f);
                pixels[(i * 3) + c] = (byte)MathF.Round(unit * 255f, MidpointRounding.ToEven);
            }
        }

        return new RgbImage(width, height, pixels);
    }
}
