namespace HierDiff.ShapesWorld.World;

/// <summary>
/// Draws a scene at 64 x 64: the background, then the shape with its pattern. Deterministic, no anti-aliasing.
/// Geometry: large shapes span 30 px, small ones 16 px; the five positions are the centre and points 16 px from it.
/// Patterns have a 6 px period: vertical stripes 3 px wide, 2 px dots, 3 px checks.
/// </summary>
public static class SceneRenderer
{
    public const int Size = 64;

    public static double Radius(ShapeSize size) => size == ShapeSize.Large ? 15 : 8;

    public static (double X, double Y) Centre(Position position) => position switch
    {
        Position.Left => (16.5, 32),
        Position.Right => (47.5, 32),
        Position.Top => (32, 16.5),
        Position.Bottom => (32, 47.5),
        _ => (32, 32),
    };

    /// <summary>RGB bytes, row by row.</summary>
    public static byte[] Render(Scene scene)
    {
        var pixels = new byte[Size * Size * 3];
        (byte R, byte G, byte B) background = Palette.Rgb(scene.Background);
        (byte R, byte G, byte B) main = Palette.Rgb(scene.ShapeColour);
        (byte R, byte G, byte B) shade = Palette.Shade(scene.ShapeColour);
        (double cx, double cy) = Centre(scene.Position);
        double r = Radius(scene.Size);
        for (int y = 0; y < Size; y++)
        {
            for (int x = 0; x < Size; x++)
            {
                (byte R, byte G, byte B) c = background;
                if (Inside(scene.Kind, x + 0.5 - cx, y + 0.5 - cy, r))
                {
                    c = PatternIsShade(scene.Pattern, x, y) ? shade : main;
                }

                int i = ((y * Size) + x) * 3;
                pixels[i] = c.R;
                pixels[i + 1] = c.G;
                pixels[i + 2] = c.B;
            }
        }

        return pixels;
    }

    /// <summary>Whether a point (relative to the shape's centre) is inside a shape of the given radius.</summary>
    public static bool Inside(ShapeKind kind, double dx, double dy, double r) => kind switch
    {
        ShapeKind.Circle => (dx * dx) + (dy * dy) <= r * r,
        // A square of about the circle's area.
        ShapeKind.Square => Math.Abs(dx) <= r * 0.886 && Math.Abs(dy) <= r * 0.886,
        // An upright triangle: apex at the top, base at the bottom, as wide as it is tall.
        _ => dy >= -r && dy <= r && Math.Abs(dx) <= (dy + r) / 2,
    };

    public static bool PatternIsShade(Pattern pattern, int x, int y) => pattern switch
    {
        Pattern.Striped => x % 6 >= 3,
        Pattern.Dotted => x % 6 is >= 2 and < 4 && y % 6 is >= 2 and < 4,
        Pattern.Checkered => ((x / 3) + (y / 3)) % 2 == 1,
        _ => false,
    };
}
