namespace HierDiff.TestModels;

/// <summary>
/// Prompt sets of the shapes world that generation tests run: near-duplicates in groups (one shape and colours each,
/// plain or patterned), so that the prompt tree has clusters to share steps in. Each read gives a new array.
/// </summary>
public static class ShapePrompts
{
    /// <summary>Three red circles (plain, striped, dotted), two green squares (plain, checkered), a yellow triangle.</summary>
    public static string[] SixInThreeGroups =>
    [
        "a red circle on a blue background",
        "a red circle on a blue background, striped",
        "a red circle on a blue background, dotted",
        "a green square on a white background",
        "a green square on a white background, checkered",
        "a yellow triangle on a black background",
    ];

    /// <summary><see cref="SixInThreeGroups"/> and a second yellow triangle, dotted.</summary>
    public static string[] SevenInThreeGroups => [.. SixInThreeGroups, "a yellow triangle on a black background, dotted"];

    /// <summary>Two red circles (plain, striped), two green squares (plain, dotted), a yellow triangle.</summary>
    public static string[] FiveInThreeGroups =>
    [
        "a red circle on a blue background",
        "a red circle on a blue background, striped",
        "a green square on a white background",
        "a green square on a white background, dotted",
        "a yellow triangle on a black background",
    ];
}
