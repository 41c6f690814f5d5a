namespace HierDiff.TestModels;

/// <summary>What a generation test starts from, in a temp folder of its own (deleted on dispose): the tiny model at
/// tiny-sd/, in the real export layout, and the prompts in prompts.txt.</summary>
public sealed class TinyGenerationInputs : IDisposable
{
    private readonly TempDirectory _folder;

    /// <param name="prefix">The start of the temp folder's name, as for <see cref="TempDirectory"/>.</param>
    /// <param name="prompts">The lines of prompts.txt.</param>
    public TinyGenerationInputs(string prefix, IEnumerable<string> prompts)
    {
        _folder = new TempDirectory(prefix);
        Model = TinyStableDiffusion.Write(_folder.Sub("tiny-sd"));
        PromptFile = _folder.Sub("prompts.txt");
        File.WriteAllLines(PromptFile, prompts);
    }

    /// <summary>The temp folder, which holds the model and the prompt file.</summary>
    public string Root => _folder.Path;

    /// <summary>The model's folder.</summary>
    public string Model { get; }

    public string PromptFile { get; }

    public string Sub(string name) => _folder.Sub(name);

    public void Dispose() => _folder.Dispose();
}
