using HierDiff.ShapesWorld.World;

namespace HierDiff.ShapesWorld.Tests;

/// <summary>Ground-truth scenes and the ways a model's images differ from them: pixel noise and blur.</summary>
internal static class TestImages
{
    public static Scene RandomScene(Random random)
    {
        var colour = (Colour)random.Next(8);
        int bg = random.Next(7);
        return new Scene(
            (ShapeKind)random.Next(3),
            colour,
            (Colour)(bg >= (int)colour ? bg + 1 : bg),
            (ShapeSize)random.Next(2),
            (Position)random.Next(5),
            (Pattern)random.Next(4));
    }

    public static SceneDescription Describe(Scene s) => new(s.Kind, s.ShapeColour, s.Background, s.Size, s.Position, s.Pattern);

    /// <summary>A 3 x 3 box blur (edges clamped).</summary>
    public static byte[] Blur(byte[] rgb)
    {
        int n = SceneRenderer.Size;
        var result = new byte[rgb.Length];
        for (int y = 0; y < n; y++)
        {
            for (int x = 0; x < n; x++)
            {
                for (int c = 0; c < 3; c++)
                {
                    int s = 0;
                    for (int dy = -1; dy <= 1; dy++)
                    {
                        for (int dx = -1; dx <= 1; dx++)
                        {
                            int yy = Math.Clamp(y + dy, 0, n - 1), xx = Math.Clamp(x + dx, 0, n - 1);
                            s += rgb[(((yy * n) + xx) * 3) + c];
                        }
                    }

                    result[(((y * n) + x) * 3) + c] = (byte)Math.Round(s / 9.0);
                }
            }
        }

        return result;
    }

    /// <summary>Independent Gaussian noise on every byte, <paramref name="sigma"/> in 0-255 units, clamped.</summary>
    public static byte[] Noise(byte[] rgb, double sigma, Random random)
    {
        var result = new byte[rgb.Length];
        for (int i = 0; i < rgb.Length; i++)
        {
            double u1 = 1 - random.NextDouble(), u2 = random.NextDouble();
            double z = Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
            result[i] = (byte)Math.Clamp(Math.Round(rgb[i] + (sigma * z)), 0, 255);
        }

        return result;
    }
}
