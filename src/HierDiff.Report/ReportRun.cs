using System.Text.Json;
using HierDiff.Core;
using HierDiff.Core.Planning;
using HierDiff.Core.Runs;
using HierDiff.Pipeline.Activities;
using HierDiff.ShapesWorld.Evaluation;

namespace HierDiff.Report;

/// <summary>One prompt of the report: its text, its image file, and its evaluation score where there is one.</summary>
public sealed record ReportPrompt(int Index, string Text, string Image, double? Score);

/// <summary>
/// What <c>hierdiff report</c> reads from a run folder: manifest.json (required) with every image it names,
/// plan.json (the prompt tree; older runs have none), scores.json (from <c>hierdiff eval</c>, optional) and
/// nodes/{node}.png (from <c>generate --keep-node-images</c>, optional). Everything is read through
/// <see cref="RunFolder"/> (only files inside the run folder) and checked as it is read; problems are input errors
/// naming the file and the field.
/// </summary>
public sealed class ReportRun
{
    private static readonly byte[] PngSignature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    private readonly RunManifest _manifest;

    private ReportRun(RunFolder folder, RunManifest manifest, IReadOnlyList<ReportPrompt> prompts, RunTreeFile? tree, SavedScores? scores, IReadOnlyDictionary<int, string> nodeImages)
    {
        _manifest = manifest;
        Folder = folder;
        Manifest = manifest.Root.Value;
        Prompts = prompts;
        Tree = tree;
        Scores = scores;
        NodeImages = nodeImages;
    }

    public RunFolder Folder { get; }

    /// <summary>The whole manifest; the summary reads the fields it finds and shows "n/a" for the rest.</summary>
    public JsonElement Manifest { get; }

    /// <summary>The prompts in index order (<c>Prompts[i].Index == i</c>, as tree node ids count them).</summary>
    public IReadOnlyList<ReportPrompt> Prompts { get; }

    public RunTreeFile? Tree { get; }

    /// <summary>scores.json, where the run was evaluated.</summary>
    public SavedScores? Scores { get; }

    /// <summary>Decoded latents of shared clusters, as data: URIs by node id.</summary>
    public IReadOnlyDictionary<int, string> NodeImages { get; }

    public static ReportRun Load(string path)
    {
        RunFolder folder = RunFolder.Open(path);
        RunManifest manifest = RunManifest.Read(folder);
        RunTreeFile? tree = RunTreeFile.Read(manifest);
        SavedScores? scores = RunScoresFile.Read(manifest);
        var prompts = manifest.Prompts
            .Select(p => new ReportPrompt(p.Index, p.Text, p.Image, scores?.Scores[p.Index]))
            .ToArray();

        var nodeImages = new Dictionary<int, string>();
        foreach (PlanSegment segment in tree?.Segments ?? [])
        {
            string name = RunReport.NodeImage(segment.Node);
            if (folder.ReadIfPresent(name, folder.Show(name), RunFolder.MaxImageBytes) is byte[] png)
            {
                nodeImages[segment.Node] = PngUri(png, folder.Show(name));
            }
        }

        return new ReportRun(folder, manifest, prompts, tree, scores, nodeImages);
    }

    /// <summary>A prompt's image as a data: URI, read when its page is written (a run of a million prompts has
    /// gigabytes of them; reading the manifest checked that each is there).</summary>
    public string ImageUri(ReportPrompt prompt) => PngUri(_manifest.ReadImage(_manifest.Prompts[prompt.Index]), Folder.Show(prompt.Image));

    /// <summary>A PNG as a data: URI; anything else would be a broken image on the page, so it is refused here.</summary>
    private static string PngUri(byte[] png, string shownAs) =>
        png.AsSpan().StartsWith(PngSignature)
            ? "data:image/png;base64," + Convert.ToBase64String(png)
            : throw new HierDiffInputException($"{shownAs}: not a PNG file");
}
