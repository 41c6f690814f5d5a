using System.Text.Json;
using HierDiff.Core;

namespace HierDiff.Cli.Report;

/// <summary>One prompt of the report: its text, its image as a data: URI, and its evaluation score where there is one.</summary>
public sealed record ReportPrompt(int Index, string Text, string Image, string ImageUri, double? Score);

/// <summary>
/// What <c>hierdiff report</c> reads from a run folder: manifest.json (required) with every image it names,
/// plan.json (the prompt tree; older runs have none), scores.json (from <c>hierdiff eval</c>, optional) and
/// nodes/{node}.png (from <c>generate --keep-node-images</c>, optional). Problems are input errors naming the file.
/// </summary>
public sealed class ReportRun
{
    private ReportRun(string folder, JsonElement manifest, IReadOnlyList<ReportPrompt> prompts, RunTreeFile? tree, JsonElement? scores, IReadOnlyDictionary<int, string> nodeImages)
    {
        Folder = folder;
        Manifest = manifest;
        Prompts = prompts;
        Tree = tree;
        Scores = scores;
        NodeImages = nodeImages;
    }

    public string Folder { get; }

    /// <summary>The whole manifest; the summary reads the fields it finds and shows "n/a" for the rest.</summary>
    public JsonElement Manifest { get; }

    public IReadOnlyList<ReportPrompt> Prompts { get; }

    public RunTreeFile? Tree { get; }

    /// <summary>The root of scores.json, where the run was evaluated.</summary>
    public JsonElement? Scores { get; }

    /// <summary>Decoded latents of shared clusters, as data: URIs by node id.</summary>
    public IReadOnlyDictionary<int, string> NodeImages { get; }

    public static ReportRun Load(string folder)
    {
        string manifestPath = Path.Combine(folder, "manifest.json");
        if (!File.Exists(manifestPath))
        {
            throw new HierDiffInputException($"{folder}: no manifest.json; --run takes a folder written by hierdiff generate");
        }

        JsonElement manifest = ReadJson(manifestPath);
        if (!manifest.TryGetProperty("prompts", out JsonElement promptArray) || promptArray.ValueKind != JsonValueKind.Array)
        {
            throw new HierDiffInputException($"{manifestPath}: no prompts array");
        }

        string treePath = Path.Combine(folder, RunTreeFile.FileName);
        RunTreeFile? tree = File.Exists(treePath) ? Parse(treePath, RunTreeFile.Parse) : null;
        string scoresPath = Path.Combine(folder, "scores.json");
        JsonElement? scores = File.Exists(scoresPath) ? ReadJson(scoresPath) : null;
        Dictionary<int, double> scoreByPrompt = scores is JsonElement s ? ScoresByPrompt(s, promptArray, scoresPath) : [];

        var prompts = new List<ReportPrompt>();
        foreach (JsonElement p in promptArray.EnumerateArray())
        {
            int index = p.GetProperty("index").GetInt32();
            string image = p.GetProperty("image").GetString() ?? "";
            prompts.Add(new ReportPrompt(index, p.GetProperty("text").GetString() ?? "", image, PngUri(folder, image), scoreByPrompt.TryGetValue(index, out double score) ? score : null));
        }

        if (tree is not null && tree.Prompts != prompts.Count)
        {
            throw new HierDiffInputException($"{treePath}: {tree.Prompts} prompts, but manifest.json has {prompts.Count}");
        }

        var nodeImages = new Dictionary<int, string>();
        foreach (TreeSegment segment in tree?.Segments ?? [])
        {
            string name = RunReport.NodeImage(segment.Node);
            if (File.Exists(Path.Combine(folder, name)))
            {
                nodeImages[segment.Node] = PngUri(folder, name);
            }
        }

        return new ReportRun(folder, manifest, prompts, tree, scores, nodeImages);
    }

    /// <summary>Each prompt's score, checked against the manifest so that an old scores.json is not shown as this run's.</summary>
    private static Dictionary<int, double> ScoresByPrompt(JsonElement scores, JsonElement manifestPrompts, string path)
    {
        Dictionary<int, string> texts = manifestPrompts.EnumerateArray().ToDictionary(p => p.GetProperty("index").GetInt32(), p => p.GetProperty("text").GetString() ?? "");
        var byPrompt = new Dictionary<int, double>();
        foreach (JsonElement image in scores.GetProperty("images").EnumerateArray())
        {
            int index = image.GetProperty("index").GetInt32();
            if (!texts.TryGetValue(index, out string? text) || text != image.GetProperty("prompt").GetString())
            {
                throw new HierDiffInputException($"{path}: prompt {index} is not the manifest's; run hierdiff eval --run again");
            }

            byPrompt[index] = image.GetProperty("score").GetDouble();
        }

        return byPrompt;
    }

    private static string PngUri(string folder, string relative)
    {
        string path = Path.Combine(folder, relative);
        if (!File.Exists(path))
        {
            throw new HierDiffInputException($"{path}: missing image (named in manifest.json)");
        }

        return "data:image/png;base64," + Convert.ToBase64String(File.ReadAllBytes(path));
    }

    private static JsonElement ReadJson(string path) => Parse(path, bytes =>
    {
        using JsonDocument document = JsonDocument.Parse(bytes);
        return document.RootElement.Clone();
    });

    private static T Parse<T>(string path, Func<byte[], T> parse)
    {
        try
        {
            return parse(File.ReadAllBytes(path));
        }
        catch (Exception e) when (e is JsonException or InvalidDataException or KeyNotFoundException or InvalidOperationException)
        {
            throw new HierDiffInputException($"{path}: not readable ({e.Message})");
        }
    }
}
