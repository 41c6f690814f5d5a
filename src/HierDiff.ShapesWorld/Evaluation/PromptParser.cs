using HierDiff.Core;
using HierDiff.ShapesWorld.World;

namespace HierDiff.ShapesWorld.Evaluation;

/// <summary>
/// Reads a prompt of the shapes world back into what it says: "a large red circle on a blue background",
/// "blue background with a red circle", "red circle, dotted", ... Words may come in any of <see cref="PromptWriter"/>'s
/// orders; the colour right before "background" is the background's, the other colour word is the shape's. Words the
/// world does not know ("a", "on", "the", "with", ...) are skipped.
/// </summary>
public static class PromptParser
{
    private static readonly Dictionary<string, ShapeKind> Kinds = Words<ShapeKind>(PromptWriter.Name);
    private static readonly Dictionary<string, Colour> Colours = Words<Colour>(Palette.Name);
    private static readonly Dictionary<string, ShapeSize> Sizes = Words<ShapeSize>(PromptWriter.Name, ("big", ShapeSize.Large));
    private static readonly Dictionary<string, Position> Positions = Words<Position>(PromptWriter.Name, ("centre", Position.Center), ("middle", Position.Center));
    private static readonly Dictionary<string, Pattern> Patterns = Words<Pattern>(
        PromptWriter.Name, ("plain", Pattern.Solid), ("stripes", Pattern.Striped), ("dots", Pattern.Dotted), ("checked", Pattern.Checkered));

    /// <summary>What <paramref name="prompt"/> says.</summary>
    /// <exception cref="HierDiffInputException">The prompt names no shape kind or no shape colour, or names one
    /// attribute twice with different values.</exception>
    public static SceneDescription Parse(string prompt)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        string[] words = prompt.ToLowerInvariant()
            .Split([' ', ',', '.', ';', ':', '\t', '\r', '\n', '-'], StringSplitOptions.RemoveEmptyEntries);

        ShapeKind? kind = null;
        Colour? shapeColour = null;
        Colour? background = null;
        ShapeSize? size = null;
        Position? position = null;
        Pattern? pattern = null;
        for (int i = 0; i < words.Length; i++)
        {
            string w = words[i];
            if (Colours.TryGetValue(w, out Colour colour))
            {
                bool isBackground = i + 1 < words.Length && words[i + 1] == "background";
                if (isBackground)
                {
                    Set(ref background, colour, "background colour", prompt);
                }
                else
                {
                    Set(ref shapeColour, colour, "shape colour", prompt);
                }
            }
            else if (Kinds.TryGetValue(w, out ShapeKind k))
            {
                Set(ref kind, k, "shape", prompt);
            }
            else if (Sizes.TryGetValue(w, out ShapeSize s))
            {
                Set(ref size, s, "size", prompt);
            }
            else if (Positions.TryGetValue(w, out Position p))
            {
                Set(ref position, p, "position", prompt);
            }
            else if (Patterns.TryGetValue(w, out Pattern pt))
            {
                Set(ref pattern, pt, "pattern", prompt);
            }
        }

        if (kind is null)
        {
            throw new HierDiffInputException($"prompt '{prompt}' names no shape (circle, square or triangle)");
        }

        if (shapeColour is null)
        {
            throw new HierDiffInputException($"prompt '{prompt}' names no colour for its shape");
        }

        return new SceneDescription(kind.Value, shapeColour.Value, background, size, position, pattern);
    }

    /// <summary>Like <see cref="Parse"/>, but null instead of an exception.</summary>
    public static SceneDescription? TryParse(string prompt)
    {
        try
        {
            return Parse(prompt);
        }
        catch (HierDiffInputException)
        {
            return null;
        }
    }

    private static void Set<T>(ref T? slot, T value, string what, string prompt)
        where T : struct, Enum
    {
        if (slot is T old && !EqualityComparer<T>.Default.Equals(old, value))
        {
            throw new HierDiffInputException($"prompt '{prompt}' names two values for its {what}: {Name(old)} and {Name(value)}");
        }

        slot = value;
    }

    private static string Name<T>(T value)
        where T : struct, Enum => value.ToString().ToLowerInvariant();

    private static Dictionary<string, T> Words<T>(Func<T, string> name, params (string Word, T Value)[] aliases)
        where T : struct, Enum
    {
        var words = Enum.GetValues<T>().ToDictionary(name, v => v, StringComparer.Ordinal);
        foreach ((string word, T value) in aliases)
        {
            words[word] = value;
        }

        return words;
    }
}
