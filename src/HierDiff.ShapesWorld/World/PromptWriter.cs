using System.Text;

namespace HierDiff.ShapesWorld.World;

/// <summary>
/// Writes prompts about scenes in varied wording and order: "a large red circle on a blue background",
/// "a red circle in the top, blue background", "red circle", "blue background with a red circle",
/// "a large red circle on a blue background, dotted", ...
/// </summary>
public static class PromptWriter
{
    public static string Name(ShapeKind kind) => kind.ToString().ToLowerInvariant();

    public static string Name(ShapeSize size) => size.ToString().ToLowerInvariant();

    public static string Name(Position position) => position.ToString().ToLowerInvariant();

    public static string Name(Pattern pattern) => pattern.ToString().ToLowerInvariant();

    /// <summary>A random description: kind and colour always, the rest each said with some probability.</summary>
    public static SceneDescription RandomDescription(Random random)
    {
        var kind = (ShapeKind)random.Next(3);
        var colour = (Colour)random.Next(8);
        Colour? background = random.NextDouble() < 0.8 ? OtherColour(random, colour) : null;
        ShapeSize? size = random.NextDouble() < 0.5 ? (ShapeSize)random.Next(2) : null;
        Position? position = random.NextDouble() < 0.5 ? (Position)random.Next(5) : null;
        Pattern? pattern = random.NextDouble() < 0.6 ? (Pattern)random.Next(4) : null;
        return new SceneDescription(kind, colour, background, size, position, pattern);
    }

    /// <summary>A concrete scene for a description: what it leaves unsaid is drawn at random.</summary>
    public static Scene Realise(SceneDescription d, Random random) => new(
        d.Kind,
        d.ShapeColour,
        d.Background ?? OtherColour(random, d.ShapeColour),
        d.Size ?? (ShapeSize)random.Next(2),
        d.Position ?? (Position)random.Next(5),
        d.Pattern ?? (Pattern)random.Next(4));

    /// <summary>One of the phrasings of a description, chosen by <paramref name="random"/>.</summary>
    public static string Write(SceneDescription d, Random random)
    {
        // The pattern goes before the colour ("a striped red circle") or after everything (", striped").
        bool patternFirst = d.Pattern is not null && random.Next(2) == 0;
        var noun = new StringBuilder();
        if (d.Size is ShapeSize size)
        {
            noun.Append(Name(size)).Append(' ');
        }

        if (patternFirst)
        {
            noun.Append(Name(d.Pattern!.Value)).Append(' ');
        }

        noun.Append(Palette.Name(d.ShapeColour)).Append(' ').Append(Name(d.Kind));
        string shape = noun.ToString();
        // Most prompts say "a red circle", some just "red circle", whatever else they say.
        bool article = random.Next(4) != 0;
        string withArticle = article ? Article(shape) + " " + shape : shape;

        string where = d.Position is Position p ? $"{(random.Next(3) switch { 0 => "in", 1 => "at", _ => "on" })} the {Name(p)}" : "";
        string text;
        if (d.Background is Colour bg)
        {
            string background = Palette.Name(bg);
            text = random.Next(3) switch
            {
                0 => Join(withArticle, where, $"on {Article(background)} {background} background"),
                1 => Join(withArticle, where) + $", {background} background",
                _ => $"{background} background with " + Join(withArticle, where),
            };
        }
        else
        {
            text = Join(withArticle, where);
        }

        if (d.Pattern is Pattern pattern && !patternFirst)
        {
            text += ", " + Name(pattern);
        }

        return text;
    }

    private static string Join(params string[] parts) => string.Join(' ', parts.Where(p => p.Length > 0));

    private static string Article(string phrase) => "aeiou".Contains(phrase[0], StringComparison.Ordinal) ? "an" : "a";

    private static Colour OtherColour(Random random, Colour not)
    {
        int c = random.Next(7);
        return (Colour)(c >= (int)not ? c + 1 : c);
    }
}
