namespace HierDiff.Models;

/// <summary>
/// The miniature Stable Diffusion that ships with HierDiff (models/shapes-sd: a world of shapes and patterns), the
/// default model of every command. It is copied next to every program that references this library.
/// </summary>
public static class BuiltInModel
{
    public const string Name = "shapes-sd";

    public static string Directory => Path.Combine(AppContext.BaseDirectory, "models", Name);
}
