namespace HierDiff.ShapesWorld.World;

/// <summary>The world's colours, and the second colour of a patterned shape.</summary>
public static class Palette
{
    public static readonly IReadOnlyList<Colour> All = Enum.GetValues<Colour>();

    public static (byte R, byte G, byte B) Rgb(Colour colour) => colour switch
    {
        Colour.Red => (220, 40, 40),
        Colour.Orange => (245, 140, 30),
        Colour.Yellow => (240, 220, 40),
        Colour.Green => (40, 170, 60),
        Colour.Blue => (40, 80, 220),
        Colour.Purple => (140, 60, 190),
        Colour.White => (245, 245, 245),
        _ => (20, 20, 20),
    };

    /// <summary>
    /// A pattern's second colour: the shape's colour at half brightness, so stripes, dots and checks never take the
    /// background's colour and a patterned shape keeps its outline; black, which has no darker shade, uses a dark grey.
    /// </summary>
    public static (byte R, byte G, byte B) Shade(Colour colour)
    {
        if (colour == Colour.Black)
        {
            return (85, 85, 85);
        }

        (byte r, byte g, byte b) = Rgb(colour);
        return ((byte)(r / 2), (byte)(g / 2), (byte)(b / 2));
    }

    public static string Name(Colour colour) => colour.ToString().ToLowerInvariant();
}
