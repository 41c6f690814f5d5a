namespace HierDiff.Core.Prompts;

/// <summary>One prompt of a prompt file: its position in the set, its text, and the line it came from.</summary>
public sealed record Prompt(int Index, string Text, int Line);

/// <summary>The prompts of one file, in file order. Duplicates are kept: they cluster at height 0.</summary>
public sealed class PromptSet
{
    public PromptSet(string source, IReadOnlyList<Prompt> prompts)
    {
        Source = source;
        Prompts = prompts;
    }

    /// <summary>Where the prompts came from (a file name or blob name), used in error messages.</summary>
    public string Source { get; }

    public IReadOnlyList<Prompt> Prompts { get; }

    public int Count => Prompts.Count;

    public IReadOnlyList<string> Texts => Prompts.Select(p => p.Text).ToArray();
}

/// <summary>Limits a prompt file is checked against.</summary>
public sealed record PromptFileLimits
{
    public const int DefaultMaxPrompts = 10_000;
    public const int DefaultMaxPromptLength = 2_000;
    public const long DefaultMaxFileBytes = 64L * 1024 * 1024;

    public int MaxPrompts { get; init; } = DefaultMaxPrompts;

    /// <summary>Longest prompt accepted, in UTF-16 characters.</summary>
    public int MaxPromptLength { get; init; } = DefaultMaxPromptLength;

    /// <summary>Largest prompt file accepted, in bytes (the Functions app checks it from the blob's size, before
    /// reading it).</summary>
    public long MaxFileBytes { get; init; } = DefaultMaxFileBytes;

    public static PromptFileLimits Default { get; } = new();
}
