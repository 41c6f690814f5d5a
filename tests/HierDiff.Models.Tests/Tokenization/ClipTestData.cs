using System.Collections.Concurrent;
using System.Text.Json;
using HierDiff.Models.Tokenization;
using HierDiff.TestModels;

namespace HierDiff.Models.Tests.Tokenization;

/// <summary>The CLIP vocabulary and reference ids under TestData/clip (copied from tests/data/clip).</summary>
internal static class ClipTestData
{
    private static readonly Lazy<ClipTokenizer> Shared = new(() => ClipTokenizer.Load(Folder));
    private static readonly ConcurrentDictionary<string, IReadOnlyList<Reference>> References = new();

    public static string Folder => Path.Combine(AppContext.BaseDirectory, "TestData", "clip");

    /// <summary>One tokenizer for all tests: loading parses 49,408 vocabulary entries and 48,894 merges.</summary>
    public static ClipTokenizer Tokenizer => Shared.Value;

    public sealed record Reference(string Text, int[] Ids, int Line);

    /// <summary>The {"text", "ids"} lines of a reference file, with their line numbers.</summary>
    public static IReadOnlyList<Reference> ReadReference(string name) => References.GetOrAdd(name, Read);

    private static IReadOnlyList<Reference> Read(string name)
    {
        string[] lines = File.ReadAllLines(Path.Combine(Folder, name));
        var references = new List<Reference>(lines.Length);
        for (int i = 0; i < lines.Length; i++)
        {
            using JsonDocument line = JsonDocument.Parse(lines[i]);
            int[] ids = [.. line.RootElement.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32())];
            references.Add(new Reference(line.RootElement.GetProperty("text").GetString()!, ids, i + 1));
        }

        return references;
    }

    /// <summary>A tokenizer folder of its own (vocab.json and merges.txt copied), for tests that add or remove files;
    /// deleted on dispose.</summary>
    public static TempDirectory CopyToTemporaryFolder()
    {
        var folder = new TempDirectory("hierdiff-clip-");
        foreach (string name in new[] { "vocab.json", "merges.txt" })
        {
            File.Copy(Path.Combine(Folder, name), folder.Sub(name));
        }

        return folder;
    }
}
