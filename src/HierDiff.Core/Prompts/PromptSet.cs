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

/// <summary>
/// Limits a run's prompts are checked against, while the file is read: settings named <c>HierDiff__NAME</c> (app
/// settings in Azure, environment variables for the command line), and named in every refusal.
/// </summary>
public sealed record PromptFileLimits
{
    public const int DefaultMaxPrompts = 10_000;
    public const int DefaultMaxPromptLength = 2_000;
    public const long DefaultMaxFileBytes = 64L << 20;

    /// <summary>Most prompts in one run (setting MaxPrompts).</summary>
    public int MaxPrompts { get; init; } = DefaultMaxPrompts;

    /// <summary>Longest prompt or negative prompt accepted, in UTF-16 characters (setting MaxPromptLength).</summary>
    public int MaxPromptLength { get; init; } = DefaultMaxPromptLength;

    /// <summary>Largest prompt file, in bytes (setting MaxPromptFileBytes); a larger one is refused before it is read whole.</summary>
    public long MaxFileBytes { get; init; } = DefaultMaxFileBytes;

    public static PromptFileLimits Default { get; } = new();

    /// <summary>How a refusal names a setting.</summary>
    public static string Setting(string name) => $"the setting HierDiff__{name}";

    /// <summary>The limits from settings read by <paramref name="setting"/> (null or blank: the default); a value
    /// that is not a positive whole number is refused, naming the setting.</summary>
    public static PromptFileLimits FromSettings(Func<string, string?> setting)
    {
        long Read(string name, long fallback, long max)
        {
            string? text = setting(name);
            if (string.IsNullOrWhiteSpace(text))
            {
                return fallback;
            }

            return long.TryParse(text.Trim(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long value) && value >= 1 && value <= max
                ? value
                : throw new HierDiffInputException($"{Setting(name)} is '{text}': expected a whole number from 1 to {max}");
        }

        return new PromptFileLimits
        {
            MaxPrompts = (int)Read("MaxPrompts", DefaultMaxPrompts, int.MaxValue),
            MaxPromptLength = (int)Read("MaxPromptLength", DefaultMaxPromptLength, int.MaxValue),
            MaxFileBytes = Read("MaxPromptFileBytes", DefaultMaxFileBytes, 1L << 40),
        };
    }

    /// <summary>The limits of the command line: environment variables HierDiff__MaxPrompts and so on.</summary>
    public static PromptFileLimits FromEnvironment() => FromSettings(name => Environment.GetEnvironmentVariable("HierDiff__" + name));
}
