using System.Text.Json.Nodes;

namespace HierDiff.Cli.Tests;

/// <summary>
/// <c>hierdiff report</c>, <c>eval</c> and <c>compare</c> on run folders that are not what <c>generate</c> writes:
/// they read only files inside the run folder, and refuse a malformed manifest, plan or scores file in one line,
/// <c>error: FILE: what is wrong</c>, with exit code 2.
/// </summary>
public sealed class RunFolderInputTests : IDisposable
{
    private readonly TempDirectory _temp = new("hierdiff-run-input-");
    private readonly TestRunFolder _run;
    private readonly TestRunFolder _other;

    public RunFolderInputTests()
    {
        _run = new TestRunFolder(_temp.Sub("run"));
        _other = new TestRunFolder(_temp.Sub("other"));
    }

    public void Dispose() => _temp.Dispose();

    public static TheoryData<string> ImageNames => ["absolute", "dot-dot", "backslash", "drive letter"];

    [Theory]
    [MemberData(nameof(ImageNames))]
    public void ImageNameLeavingTheRunFolderIsRefusedByEveryCommand(string kind)
    {
        // Each names an image that exists, so a command that followed the name would find it.
        string name = kind switch
        {
            "absolute" => Path.Combine(_other.Path, "images", "0000.png"),
            "dot-dot" => "../other/images/0000.png",
            "backslash" => "images\\0000.png",
            _ => "C:/images/0000.png",
        };
        _run.EditPrompt(0, p => p["image"] = name);

        foreach (CliRunner.Result result in RunEveryCommand())
        {
            AssertRefused(result, _run.Manifest, $"prompts[0].image: '{name}'");
        }

        Assert.False(File.Exists(_run.Report));
    }

    [Fact]
    public void ImageThatLinksOutsideTheRunFolderIsRefusedByEveryCommand()
    {
        string image = _run.File("images/0000.png");
        File.Delete(image);
        File.CreateSymbolicLink(image, _other.File("images/0000.png"));

        foreach (CliRunner.Result result in RunEveryCommand())
        {
            AssertRefused(result, _run.Manifest, "prompts[0].image: 'images/0000.png' is a link to");
            Assert.Contains("outside the run folder", result.Stderr);
        }
    }

    [Fact]
    public void ImagesFolderThatLinksOutsideTheRunFolderIsRefusedByEveryCommand()
    {
        Directory.Delete(_run.File("images"), recursive: true);
        Directory.CreateSymbolicLink(_run.File("images"), _other.File("images"));

        foreach (CliRunner.Result result in RunEveryCommand())
        {
            AssertRefused(result, _run.Manifest, "prompts[0].image: 'images/0000.png' is a link to");
        }
    }

    [Fact]
    public void ManifestThatLinksOutsideTheRunFolderIsRefusedByEveryCommand()
    {
        File.Delete(_run.Manifest);
        File.CreateSymbolicLink(_run.Manifest, _other.Manifest);

        foreach (CliRunner.Result result in RunEveryCommand())
        {
            AssertRefused(result, _run.Manifest, "'manifest.json' is a link to");
        }
    }

    [Fact]
    public void LinkThatStaysInsideTheRunFolderIsFollowed()
    {
        File.Move(_run.File("images/0000.png"), _run.File("first.png"));
        File.CreateSymbolicLink(_run.File("images/0000.png"), "../first.png");

        CliRunner.Result report = CliRunner.Run("report", "--run", _run.Path);
        Assert.True(report.ExitCode == 0, report.Stderr);
        CliRunner.Result eval = CliRunner.Run("eval", "--run", _run.Path);
        Assert.True(eval.ExitCode == 0, eval.Stderr);
    }

    [Fact]
    public void OutputFileLinkedOutsideTheRunFolderIsReplacedNotWrittenThrough()
    {
        string precious = _temp.Sub("precious.txt");
        File.WriteAllText(precious, "not to be overwritten");
        File.CreateSymbolicLink(_run.Report, precious);
        File.CreateSymbolicLink(_run.File("compare.json"), precious);

        CliRunner.Result eval = CliRunner.Run("eval", "--run", _run.Path);
        Assert.True(eval.ExitCode == 0, eval.Stderr);
        CliRunner.Result report = CliRunner.Run("report", "--run", _run.Path);
        Assert.True(report.ExitCode == 0, report.Stderr);
        CliRunner.Result compare = CliRunner.Run("compare", _run.Path, _other.Path);
        Assert.True(compare.ExitCode == 0, compare.Stderr);

        Assert.Equal("not to be overwritten", File.ReadAllText(precious));
        Assert.Null(new FileInfo(_run.Report).LinkTarget);
        Assert.Contains("<!DOCTYPE html>", File.ReadAllText(_run.Report));
        Assert.Null(new FileInfo(_run.File("compare.json")).LinkTarget);
    }

    [Fact]
    public void ImageClaimingAGigabyteIsRefusedBeforeItIsRead()
    {
        // A sparse file: a gigabyte long, next to nothing on disk.
        using (var image = new FileStream(_run.File("images/0001.png"), FileMode.Open))
        {
            image.SetLength(1L << 30);
        }

        foreach (CliRunner.Result result in RunEveryCommand())
        {
            AssertRefused(result, _run.Manifest, "prompts[1].image: ");
            Assert.Contains("is 1,073,741,824 bytes", result.Stderr);
        }
    }

    public static TheoryData<string> ManifestDefects => [.. ManifestEdits.Keys];

    /// <summary>What each defect does to a good manifest, and what the refusal says after "manifest.json: ".</summary>
    private static readonly Dictionary<string, (Action<TestRunFolder> Edit, string Message)> ManifestEdits = new()
    {
        ["truncated"] = (r => File.WriteAllText(r.Manifest, "{\"prompts\": [{\"index\": 0"), "not valid JSON"),
        ["NaN"] = (r => File.WriteAllText(r.Manifest, "{\"prompts\": [{\"index\": NaN}]}"), "not valid JSON"),
        ["array for the root"] = (r => File.WriteAllText(r.Manifest, "[]"), "expected an object, found an array"),
        ["null for the root"] = (r => File.WriteAllText(r.Manifest, "null"), "expected an object, found null"),
        ["object for prompts"] = (r => r.EditManifest(m => m["prompts"] = new JsonObject()), "prompts: expected an array, found an object"),
        ["no prompts"] = (r => r.EditManifest(m => m["prompts"] = new JsonArray()), "prompts: lists no prompts"),
        ["prompts missing"] = (r => r.EditManifest(m => m.Remove("prompts")), "prompts is missing"),
        ["null prompt"] = (r => r.EditManifest(m => m["prompts"]![0] = null), "prompts[0]: expected an object, found null"),
        ["array for a prompt"] = (r => r.EditManifest(m => m["prompts"]![0] = new JsonArray(1, 2)), "prompts[0]: expected an object, found an array"),
        ["index a string"] = (r => r.EditPrompt(0, p => p["index"] = "0"), "prompts[0].index: expected a whole number, found a string"),
        ["index huge"] = (r => r.EditPrompt(0, p => p["index"] = JsonNode.Parse("1e30")), "prompts[0].index: expected a whole number, found 1e30"),
        ["index fractional"] = (r => r.EditPrompt(0, p => p["index"] = 0.5), "prompts[0].index: expected a whole number, found 0.5"),
        ["index out of range"] = (r => r.EditPrompt(2, p => p["index"] = 7), "prompts[2].index: 7 is out of range (0 to 2)"),
        ["index negative"] = (r => r.EditPrompt(2, p => p["index"] = -1), "prompts[2].index: -1 is out of range (0 to 2)"),
        ["index twice"] = (r => r.EditPrompt(2, p => p["index"] = 0), "prompts[2].index: prompt 0 is listed twice"),
        ["index missing"] = (r => r.EditPrompt(1, p => p.Remove("index")), "prompts[1].index is missing"),
        ["text a number"] = (r => r.EditPrompt(0, p => p["text"] = 5), "prompts[0].text: expected a string, found 5"),
        ["text null"] = (r => r.EditPrompt(0, p => p["text"] = null), "prompts[0].text is missing"),
        ["image missing"] = (r => r.EditPrompt(0, p => p.Remove("image")), "prompts[0].image is missing"),
        ["image empty"] = (r => r.EditPrompt(0, p => p["image"] = ""), "prompts[0].image: '' is empty"),
        ["image a folder"] = (r => r.EditPrompt(0, p => p["image"] = "images"), "/images is a folder, not an image"),
        ["same image twice"] = (r => r.EditPrompt(1, p => p["image"] = "images/0000.png"), "prompts[1].image: 'images/0000.png' is also the image of prompt 0"),
        ["savings a string"] = (r => r.EditManifest(m => m["savings"] = "lots"), "savings: expected a finite number, found a string"),
        ["denoiser calls fractional"] = (r => r.EditManifest(m => m["denoiser_calls"] = 1.5), "denoiser_calls: expected a whole number, found 1.5"),
        ["mode a number"] = (r => r.EditManifest(m => m["mode"] = 5), "mode: expected a string, found 5"),
    };

    [Theory]
    [MemberData(nameof(ManifestDefects))]
    public void MalformedManifestIsRefusedInOneLineNamingTheField(string defect)
    {
        (Action<TestRunFolder> edit, string message) = ManifestEdits[defect];
        edit(_run);
        foreach (CliRunner.Result result in RunEveryCommand())
        {
            AssertRefused(result, _run.Manifest, message);
        }
    }

    public static TheoryData<string> PlanDefects => [.. PlanEdits.Keys];

    /// <summary>What each defect does to a good plan.json, and what the refusal says after "plan.json: ".</summary>
    private static readonly Dictionary<string, (Action<JsonObject> Edit, string Message)> PlanEdits = new()
    {
        ["node is its own child (a cycle)"] = (p => Merge(p, 1)["left"] = 4, "tree[1].left: node 4 is not made before node 4"),
        ["two nodes are each other's child (a cycle)"] = (p => Merge(p, 0)["left"] = 4, "tree[0].left: node 4 is not made before node 3"),
        ["child out of range"] = (p => Merge(p, 1)["right"] = 99, "tree[1].right: 99 is out of range (0 to 4)"),
        ["child negative"] = (p => Merge(p, 1)["right"] = -5, "tree[1].right: -5 is out of range (0 to 4)"),
        ["child joined twice"] = (p => Merge(p, 1)["left"] = 0, "tree[1].left: node 0 is joined twice"),
        ["node id not its place"] = (p => Merge(p, 0)["node"] = 7, "tree[0].node: 7, but merge 0 of 3 prompts makes node 3"),
        ["count not its children's"] = (p => Merge(p, 0)["count"] = 9, "tree[0].count: 9, but nodes 0 and 1 serve 2 prompts"),
        ["count huge"] = (p => Merge(p, 1)["count"] = 1_000_000_000, "tree[1].count: 1000000000, but nodes 3 and 2 serve 3 prompts"),
        ["merge too many"] = (p => p["tree"]!.AsArray().Add(new JsonObject { ["node"] = 5, ["left"] = 4, ["right"] = 2, ["score"] = 1, ["count"] = 4 }), "tree: 3 merges; a tree of 3 prompts has 2"),
        ["merge missing"] = (p => p["tree"]!.AsArray().RemoveAt(1), "tree: 1 merges; a tree of 3 prompts has 2"),
        ["child a string"] = (p => Merge(p, 0)["left"] = "0", "tree[0].left: expected a whole number, found a string"),
        ["score a string"] = (p => Merge(p, 0)["score"] = "high", "tree[0].score: expected a finite number, found a string"),
        ["prompts not the manifest's"] = (p => p["prompts"] = 5, "prompts: 5 prompts, but manifest.json has 3"),
        ["steps not the manifest's"] = (p => p["steps"] = 9, "steps: 9 steps, but manifest.json has 4"),
        ["steps huge"] = (p => p["steps"] = 1_000_000_000_000, "steps: 1000000000000 is out of range"),
        ["tree null"] = (p => p["tree"] = null, "tree is missing"),
        ["segments missing"] = (p => p.Remove("segments"), "segments is missing"),
        ["segment twice"] = (p => p["segments"]!.AsArray().Add(Segment(p, 0).DeepClone()), "segments[4].node: node 2 has two segments"),
        ["source is the node itself"] = (p => Segment(p, 2)["source"] = 0, "segments[2].source: node 0 is its own source"),
        ["source ends elsewhere"] = (p => Segment(p, 2)["source"] = 2, "segments[2].source: node 2 has no segment ending at step 2"),
        ["node out of range"] = (p => Segment(p, 0)["node"] = 77, "segments[0].node: 77 is out of range (0 to 4)"),
        ["member out of range"] = (p => Segment(p, 0)["members"] = new JsonArray(77), "segments[0].members[0]: 77 is out of range (0 to 2)"),
        ["members null"] = (p => Segment(p, 0)["members"] = null, "segments[0].members is missing"),
        ["members not the node's"] = (p => Segment(p, 1)["members"] = new JsonArray(0, 0), "segments[1].members: node 3 serves 2 prompts"),
        ["start after the last step"] = (p => Segment(p, 0)["start"] = 9, "segments[0].start: 9 is out of range (0 to 3)"),
        ["end before start"] = (p => Segment(p, 2)["end"] = 1, "segments[2].end: 1 is out of range (3 to 4)"),
        ["a step missing"] = (p => Segment(p, 0)["end"] = 3, "segments: the segments of prompt 2 do not give it each of steps 0-3 exactly once"),
        ["empty object"] = (p => p.Clear(), "prompts is missing"),
    };

    [Theory]
    [MemberData(nameof(PlanDefects))]
    public void MalformedPlanIsRefusedInOneLineNamingTheField(string defect)
    {
        (Action<JsonObject> edit, string message) = PlanEdits[defect];
        _run.EditPlan(edit);
        AssertRefused(CliRunner.Run("report", "--run", _run.Path), _run.Plan, message);
        Assert.False(File.Exists(_run.Report));
    }

    [Theory]
    [InlineData("{\"mode\": \"hierarch", "not valid JSON")]
    [InlineData("{\"mode\": \"hierarchical\", \"tau\": NaN}", "not valid JSON")]
    [InlineData("[]", "expected an object, found an array")]
    [InlineData("null", "expected an object, found null")]
    public void PlanThatIsNotAnObjectIsRefusedInOneLine(string text, string message)
    {
        File.WriteAllText(_run.Plan, text);
        AssertRefused(CliRunner.Run("report", "--run", _run.Path), _run.Plan, message);
    }

    [Theory]
    [InlineData("""{"images": [{"index": "0", "prompt": 1, "score": "x"}]}""", "images: 1 images, but manifest.json has 3 prompts")]
    [InlineData("""{"images": [""", "not valid JSON")]
    [InlineData("""{"images": null}""", "images is missing")]
    [InlineData("""{"mean_score": 0.5}""", "images is missing")]
    [InlineData("[]", "expected an object, found an array")]
    [InlineData("""{"mean_score": 0.5, "images": [{"index": 0}, {"index": 1}, {"index": 2}]}""", "images[0].prompt is missing")]
    public void MalformedScoresFileIsRefusedByReportInOneLine(string text, string message)
    {
        File.WriteAllText(_run.Scores, text);
        AssertRefused(CliRunner.Run("report", "--run", _run.Path), _run.Scores, message);
    }

    [Fact]
    public void ScoresFileOfOtherPromptsIsRefusedByReport()
    {
        Assert.Equal(0, CliRunner.Run("eval", "--run", _run.Path).ExitCode);
        _run.EditPrompt(1, p => p["text"] = "a blue circle");
        AssertRefused(CliRunner.Run("report", "--run", _run.Path), _run.Scores, "images[1]: prompt 1 or its image is not the manifest's; run hierdiff eval --run again");
    }

    private static JsonObject Merge(JsonObject plan, int i) => plan["tree"]![i]!.AsObject();

    private static JsonObject Segment(JsonObject plan, int i) => plan["segments"]![i]!.AsObject();

    private CliRunner.Result[] RunEveryCommand() =>
    [
        CliRunner.Run("report", "--run", _run.Path),
        CliRunner.Run("eval", "--run", _run.Path),
        CliRunner.Run("compare", _run.Path, _other.Path),
    ];

    /// <summary>Exit code 2 and one line on stderr, "error: FILE: ..." holding <paramref name="message"/>.</summary>
    internal static void AssertRefused(CliRunner.Result result, string file, string message)
    {
        Assert.True(result.ExitCode == 2, $"exit code {result.ExitCode}; stdout: {result.Stdout}; stderr: {result.Stderr}");
        string line = Assert.Single(result.Stderr.TrimEnd('\n').Split('\n'));
        Assert.StartsWith($"error: {file}: ", line);
        Assert.Contains(message, line);
    }
}
