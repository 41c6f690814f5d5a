namespace HierDiff.Models;

/// <summary>
/// The miniature models that ship with HierDiff, trained on a world of shapes and patterns
/// (<c>tools/train-builtin-model</c>): models/shapes-sd, a Stable Diffusion and the default model of every command,
/// and models/shapes-kandinsky, a Kandinsky 2.2 (a prior to image embeddings, a decoder conditioned on them). They
/// are copied next to every program that references this library.
/// </summary>
public static class BuiltInModel
{
    public const string Name = "shapes-sd";

    public const string KandinskyName = "shapes-kandinsky";

    public static string Directory => Path.Combine(AppContext.BaseDirectory, "models", Name);

    public static string KandinskyDirectory => Path.Combine(AppContext.BaseDirectory, "models", KandinskyName);
}
