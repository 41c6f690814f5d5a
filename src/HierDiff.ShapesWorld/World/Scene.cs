namespace HierDiff.ShapesWorld.World;

public enum ShapeKind
{
    Circle,
    Square,
    Triangle,
}

public enum Colour
{
    Red,
    Orange,
    Yellow,
    Green,
    Blue,
    Purple,
    White,
    Black,
}

public enum ShapeSize
{
    Small,
    Large,
}

public enum Position
{
    Left,
    Right,
    Top,
    Bottom,
    Center,
}

public enum Pattern
{
    Solid,
    Striped,
    Dotted,
    Checkered,
}

/// <summary>One image of the world: a shape of one colour on a background of another.</summary>
public sealed record Scene(ShapeKind Kind, Colour ShapeColour, Colour Background, ShapeSize Size, Position Position, Pattern Pattern);

/// <summary>
/// What a prompt says about its scene; null where it says nothing (the image may then be either way). Kind and
/// shape colour are always said.
/// </summary>
public sealed record SceneDescription(
    ShapeKind Kind,
    Colour ShapeColour,
    Colour? Background = null,
    ShapeSize? Size = null,
    Position? Position = null,
    Pattern? Pattern = null)
{
    /// <summary>Whether a concrete scene agrees with everything the description says.</summary>
    public bool Matches(Scene scene) =>
        scene.Kind == Kind && scene.ShapeColour == ShapeColour
        && (Background is null || scene.Background == Background)
        && (Size is null || scene.Size == Size)
        && (Position is null || scene.Position == Position)
        && (Pattern is null || scene.Pattern == Pattern);
}
