using System.Text.RegularExpressions;
using HierDiff.Models.Images;

namespace HierDiff.Cli.Tests;

/// <summary><c>hierdiff report</c>: the page of a run, checked in a real headless browser.</summary>
public sealed class ReportCommandTests : IDisposable
{
    private const string Hostile = "<script>alert(1)</script> a red circle & \"quotes\"";

    private readonly TempDirectory _temp = new("hierdiff-report-cli-");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void GeneratedRunShowsItsTreeAndEveryImageInABrowser()
    {
        string model = TinyStableDiffusion.Write(_temp.Sub("tiny-sd"));
        string prompts = _temp.Sub("prompts.txt");
        File.WriteAllLines(prompts, ["a red circle on a blue background", "a red circle on a blue background, striped", Hostile, "a green square", "a yellow triangle"]);
        string run = _temp.Sub("run");
        CliRunner.Result generated = CliRunner.Run("generate", "--prompts", prompts, "--model", model, "--out", run, "--steps", "40", "--target-savings", "0.5", "--keep-node-images");
        Assert.True(generated.ExitCode == 0, generated.Stderr);

        // generate wrote the tree the report draws: 4 merges for 5 prompts, segments that cover every step of every prompt.
        using JsonDocument plan = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(run, "plan.json")));
        Assert.Equal(4, plan.RootElement.GetProperty("tree").GetArrayLength());
        long calls = plan.RootElement.GetProperty("segments").EnumerateArray().Sum(s => (long)(s.GetProperty("end").GetInt32() - s.GetProperty("start").GetInt32()));
        using JsonDocument manifest = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(run, "manifest.json")));
        Assert.Equal(manifest.RootElement.GetProperty("denoiser_calls").GetInt64(), calls);
        // Shared clusters whose latent went through the store are decoded (how many depends on how the pipeline
        // batches subtrees); each image names a shared segment.
        string nodes = Path.Combine(run, "nodes");
        string[] nodeFiles = Directory.Exists(nodes) ? Directory.GetFiles(nodes) : [];
        HashSet<string> shared = plan.RootElement.GetProperty("segments").EnumerateArray()
            .Where(s => s.GetProperty("end").GetInt32() < 40)
            .Select(s => $"{s.GetProperty("node").GetInt32()}.png")
            .ToHashSet();
        Assert.All(nodeFiles, f => Assert.Contains(Path.GetFileName(f), shared));
        int nodeImages = nodeFiles.Length;

        CliRunner.Result result = CliRunner.Run("report", "--run", run);
        Assert.True(result.ExitCode == 0, result.Stderr);
        string html = File.ReadAllText(Path.Combine(run, "report.html"));
        Assert.Contains("savings", html);
        Assert.Contains("GPU seconds", html);
        Assert.Matches(@"<th>model calls</th><td>[0-9,]+, [0-9.]+ items a call \([0-9]+% of the max batch\)</td>", html);
        Assert.Matches(@"node 8</b> · 5 prompts · steps 0–\d+ · score [0-9.]+", html);

        (string dom, int images) = HeadlessChromium.OpenReport(Path.Combine(run, "report.html"));
        Assert.Equal(5 + nodeImages, images);
        Assert.Equal(2, Regex.Count(dom, "<script"));
    }

    [Fact]
    public void ARunFolderDownloadedFromBlobStorageIsDrawn()
    {
        // A run whose files live in blob storage (Azurite), as the Functions app leaves them: runs/{run}/ and images/{run}/.
        string model = TinyStableDiffusion.Write(_temp.Sub("tiny-sd"));
        string prompts = _temp.Sub("prompts.txt");
        File.WriteAllLines(prompts, ["a red circle on a blue background", "a red circle on a blue background, striped", "a green square"]);
        string local = _temp.Sub("local");
        CliRunner.Result generated = CliRunner.Run(
            "generate", "--prompts", prompts, "--model", model, "--out", local, "--steps", "6", "--target-savings", "0.3", "--storage", "UseDevelopmentStorage=true");
        Assert.True(generated.ExitCode == 0, generated.Stderr);
        string runId = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(local, "plan.json"))).RootElement.GetProperty("run_id").GetString()!;

        // Downloaded as docs/deploy.md says: runs/{run}/* into a folder, images/{run}/* into its images/.
        string downloaded = _temp.Sub("downloaded");
        var blobs = new Azure.Storage.Blobs.BlobServiceClient("UseDevelopmentStorage=true");
        foreach ((string container, string into) in new[] { ("runs", downloaded), ("images", Path.Combine(downloaded, "images")) })
        {
            Azure.Storage.Blobs.BlobContainerClient client = blobs.GetBlobContainerClient(container);
            foreach (Azure.Storage.Blobs.Models.BlobItem item in client.GetBlobs(prefix: runId + "/"))
            {
                string name = item.Name[(runId.Length + 1)..];
                if (name.Contains('/'))
                {
                    continue; // the run's latents and conditioning: not part of what a report reads
                }

                Directory.CreateDirectory(into);
                client.GetBlobClient(item.Name).DownloadTo(Path.Combine(into, name));
            }
        }

        CliRunner.Result result = CliRunner.Run("report", "--run", downloaded);

        Assert.True(result.ExitCode == 0, result.Stderr);
        string html = File.ReadAllText(Path.Combine(downloaded, "report.html"));
        Assert.Matches(@"node 4</b> · 3 prompts", html);
    }

    [Fact]
    public void PromptsAreEscapedAndScoresShown()
    {
        string run = HandMadeRun("scored", withPlan: true);
        File.WriteAllText(Path.Combine(run, "scores.json"), JsonSerializer.Serialize(new
        {
            mean_score = 0.5,
            diversity = 0.25,
            images = new[]
            {
                new { index = 0, prompt = "a red circle", image = "images/0000.png", score = 0.125 },
                new { index = 1, prompt = Hostile, image = "images/0001.png", score = 0.875 },
                new { index = 2, prompt = "a blue square", image = "images/0002.png", score = 0.5 },
            },
        }));
        CliRunner.Result result = CliRunner.Run("report", "--run", run);
        Assert.True(result.ExitCode == 0, result.Stderr);

        string html = File.ReadAllText(Path.Combine(run, "report.html"));
        Assert.DoesNotContain("<script>alert", html);
        Assert.Contains("&lt;script&gt;alert(1)&lt;/script&gt; a red circle &amp; &quot;quotes&quot;", html);
        Assert.Contains("eval <b class=\"score\">0.875</b>", html);
        Assert.Contains("node 3</b> · 2 prompts · steps 0–2 · score 0.1 · eval <b class=\"score\">0.500</b>", html);
        Assert.Contains("mean score 0.500, diversity 0.250", html);

        // In the browser: only the page's two scripts, no error, and all three prompts' images and the node's.
        (string dom, int images) = HeadlessChromium.OpenReport(Path.Combine(run, "report.html"));
        Assert.Equal(4, images);
        Assert.Equal(2, Regex.Count(dom, "<script"));
        Assert.Contains("&lt;script&gt;alert(1)&lt;/script&gt; a red circle", dom);
    }

    [Fact]
    public void RunWithoutPlanOrScoresListsEveryImage()
    {
        string run = HandMadeRun("plain", withPlan: false);
        CliRunner.Result result = CliRunner.Run("report", "--run", run);
        Assert.True(result.ExitCode == 0, result.Stderr);
        string html = File.ReadAllText(Path.Combine(run, "report.html"));
        Assert.Contains("no plan.json", html);
        Assert.Contains("hierdiff eval --run writes scores.json", html);
        Assert.Equal(3, HeadlessChromium.OpenReport(Path.Combine(run, "report.html")).Images);
    }

    [Fact]
    public void FolderWithoutManifestIsAnErrorNamingIt()
    {
        string empty = _temp.Sub("empty");
        Directory.CreateDirectory(empty);
        CliRunner.Result result = CliRunner.Run("report", "--run", empty);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains(empty, result.Stderr);
        Assert.Contains("no manifest.json", result.Stderr);
        Assert.False(File.Exists(Path.Combine(empty, "report.html")));
    }

    [Fact]
    public void MissingImageIsAnErrorNamingIt()
    {
        string run = HandMadeRun("broken", withPlan: false);
        File.Delete(Path.Combine(run, "images", "0001.png"));
        CliRunner.Result result = CliRunner.Run("report", "--run", run);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains(Path.Combine(run, "images/0001.png"), result.Stderr);
    }

    [Fact]
    public void TreeAsDeepAsItsPromptsIsWrittenWholeAndFast()
    {
        // A chain: merge i joins the cluster before it with prompt i + 1, so the tree is N - 1 deep. Each prompt runs
        // its one step alone. Drawn recursively, N = 20,000 overflowed the stack (after half a minute of rescoring).
        const int n = 20_000;
        string run = _temp.Sub("chain");
        Directory.CreateDirectory(Path.Combine(run, "images"));
        byte[] png = Png(100);
        var prompts = new List<object>();
        for (int i = 0; i < n; i++)
        {
            string image = $"images/{i:00000}.png";
            File.WriteAllBytes(Path.Combine(run, image), png);
            prompts.Add(new { index = i, text = $"prompt {i}", image });
        }

        File.WriteAllText(Path.Combine(run, "manifest.json"), JsonSerializer.Serialize(new { mode = "hierarchical", prompts, steps = 1 }));
        File.WriteAllText(Path.Combine(run, "plan.json"), JsonSerializer.Serialize(new
        {
            mode = "hierarchical",
            tau = 0.5,
            steps = 1,
            prompts = n,
            tree = Enumerable.Range(0, n - 1).Select(i => new { node = n + i, left = i == 0 ? 0 : n + i - 1, right = i + 1, score = i / (double)n, count = i + 2 }),
            segments = Enumerable.Range(0, n).Select(i => new { node = i, start = 0, end = 1, source = -1, members = new[] { i }, score = 0.0 }),
        }));

        CliRunner.Result result = CliRunner.Run("report", "--run", run);
        Assert.True(result.ExitCode == 0, result.Stderr);

        // Over 2,000 prompts: report.html has the nodes of more than a page's prompts, the pages the rest; every
        // node and every prompt is drawn once, on one of them.
        string[] pages = [Path.Combine(run, "report.html"), .. Directory.GetFiles(Path.Combine(run, "report"))];
        string[] html = [.. pages.Select(File.ReadAllText)];
        Assert.Equal(n - 1, html.Sum(h => Regex.Count(h, "<details class=\"node\"")));
        Assert.Equal(n, html.Sum(h => Regex.Count(h, "<div class=\"leaf\"[ >]")));
        Assert.All(html.Skip(1), h => Assert.InRange(Regex.Count(h, "<div class=\"leaf\"[ >]"), 1, 2_000));
    }

    [Fact]
    public void ALargeRunOpensOnTheTopOfItsTreeAndPagesTheRest()
    {
        // Pages of at most 2 prompts: node 4 (3 prompts) stays on report.html; node 3 (prompts 0, 1) is page 1,
        // prompt 2 page 2.
        string run = HandMadeRun("paged", withPlan: true);
        CliRunner.Result result = CliRunner.Run("report", "--run", run, "--page-prompts", "2");
        Assert.True(result.ExitCode == 0, result.Stderr);

        string top = File.ReadAllText(Path.Combine(run, "report.html"));
        Assert.Contains("node 4</b> · 3 prompts", top);
        string[] links = [.. Regex.Matches(top, "<a href=\"(report/[^\"#]+)#(node-[0-9]+)\">").Select(m => $"{m.Groups[1].Value}#{m.Groups[2].Value}")];
        Assert.Equal(2, links.Length);
        Assert.Equal(links.Select(l => l[..l.IndexOf('#')]).Order(), Directory.GetFiles(Path.Combine(run, "report")).Select(f => "report/" + Path.GetFileName(f)).Order());
        foreach (string link in links)
        {
            string page = File.ReadAllText(Path.Combine(run, link[..link.IndexOf('#')]));
            Assert.Contains($"id=\"{link[(link.IndexOf('#') + 1)..]}\"", page);
            Assert.Contains("<a href=\"../report.html\">", page);
        }

        // The top page holds no prompt's image; each page holds its own prompts' (and node 3's decoded latent).
        Assert.Equal(0, HeadlessChromium.OpenReport(Path.Combine(run, "report.html")).Images);
        string first = Path.Combine(run, links[0][..links[0].IndexOf('#')]);
        (string dom, int images) = HeadlessChromium.OpenReport(first);
        Assert.Equal(3, images);
        Assert.DoesNotContain("<script>alert(1)", File.ReadAllText(first));
        Assert.Contains("&lt;script&gt;alert(1)&lt;/script&gt;", dom);
        Assert.Equal(1, HeadlessChromium.OpenReport(Path.Combine(run, links[1][..links[1].IndexOf('#')])).Images);
    }

    [Fact]
    public void ARewrittenReportReplacesItsOwnPagesOnlyAndOverwriteKnowsThem()
    {
        string model = TinyStableDiffusion.Write(_temp.Sub("tiny-sd"));
        string prompts = _temp.Sub("prompts.txt");
        File.WriteAllLines(prompts, ["a red circle", "a red circle, striped", "a green square", "a yellow triangle", "a blue square"]);
        string run = _temp.Sub("run");
        Assert.Equal(0, CliRunner.Run("generate", "--prompts", prompts, "--model", model, "--out", run, "--steps", "4", "--target-savings", "0.5").ExitCode);
        string pages = Path.Combine(run, "report");

        // Paged, then paged otherwise: only the second report's pages are left; then one page: none are.
        Assert.Equal(0, CliRunner.Run("report", "--run", run, "--page-prompts", "2").ExitCode);
        string[] before = Directory.GetFiles(pages);
        Assert.Equal(0, CliRunner.Run("report", "--run", run, "--page-prompts", "3").ExitCode);
        string[] after = Directory.GetFiles(pages);
        Assert.Empty(before.Intersect(after));
        Assert.All(after, f => Assert.Contains(Path.GetFileName(f), File.ReadAllText(Path.Combine(run, "report.html"))));
        Assert.Equal(0, CliRunner.Run("report", "--run", run).ExitCode);
        Assert.False(Directory.Exists(pages));

        // generate --overwrite replaces a run with report pages; a file of the user's among them, it refuses.
        Assert.Equal(0, CliRunner.Run("report", "--run", run, "--page-prompts", "2").ExitCode);
        Assert.Equal(0, CliRunner.Run("generate", "--prompts", prompts, "--model", model, "--out", run, "--steps", "4", "--target-savings", "0.5", "--overwrite").ExitCode);
        Assert.False(Directory.Exists(pages));
        Assert.Equal(0, CliRunner.Run("report", "--run", run, "--page-prompts", "2").ExitCode);
        File.WriteAllText(Path.Combine(pages, "notes.txt"), "mine");
        Assert.Equal(0, CliRunner.Run("report", "--run", run).ExitCode);
        Assert.Equal(["notes.txt"], Directory.GetFiles(pages).Select(Path.GetFileName));
        CliRunner.Result refused = CliRunner.Run("generate", "--prompts", prompts, "--model", model, "--out", run, "--steps", "4", "--overwrite");
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("notes.txt", refused.Stderr);
        Assert.Equal("mine", File.ReadAllText(Path.Combine(pages, "notes.txt")));
    }

    [Fact]
    public void AReportFolderThatIsALinkIsRefusedBeforeAnythingIsWritten()
    {
        string run = HandMadeRun("linked", withPlan: true);
        string elsewhere = _temp.Sub("elsewhere");
        Directory.CreateDirectory(elsewhere);
        Directory.CreateSymbolicLink(Path.Combine(run, "report"), elsewhere);
        CliRunner.Result result = CliRunner.Run("report", "--run", run, "--page-prompts", "2");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("is a link", result.Stderr);
        Assert.False(File.Exists(Path.Combine(run, "report.html")));
        Assert.Empty(Directory.GetFileSystemEntries(elsewhere));
    }

    [Theory]
    [InlineData("1")]
    [InlineData("100001")]
    public void PagePromptsOutsideItsRangeIsRefused(string pagePrompts)
    {
        string run = HandMadeRun("range", withPlan: true);
        CliRunner.Result result = CliRunner.Run("report", "--run", run, "--page-prompts", pagePrompts);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"--page-prompts must be 2 to 100,000, not {pagePrompts}", result.Stderr);
        Assert.False(File.Exists(Path.Combine(run, "report.html")));
    }

    /// <summary>Three prompts (the second hostile) with images, laid out as generate writes them; with the plan, prompts
    /// 0 and 1 share steps 0-2 as node 3 (with a decoded node image), and node 4 joins prompt 2 without steps of its own.</summary>
    private string HandMadeRun(string name, bool withPlan)
    {
        string run = _temp.Sub(name);
        Directory.CreateDirectory(Path.Combine(run, "images"));
        string[] texts = ["a red circle", Hostile, "a blue square"];
        var prompts = new List<object>();
        for (int i = 0; i < texts.Length; i++)
        {
            string image = $"images/{i:0000}.png";
            File.WriteAllBytes(Path.Combine(run, image), Png((byte)(80 * i)));
            prompts.Add(new { index = i, text = texts[i], image });
        }

        File.WriteAllText(Path.Combine(run, "manifest.json"), JsonSerializer.Serialize(new
        {
            mode = "hierarchical",
            prompts,
            steps = 4,
            tau = 0.3,
            denoiser_calls = 10,
            standard_denoiser_calls = 12,
            savings = 1 - (10 / 12.0),
        }));
        if (withPlan)
        {
            Directory.CreateDirectory(Path.Combine(run, "nodes"));
            File.WriteAllBytes(Path.Combine(run, "nodes", "3.png"), Png(200));
            File.WriteAllText(Path.Combine(run, "plan.json"), JsonSerializer.Serialize(new
            {
                mode = "hierarchical",
                tau = 0.3,
                steps = 4,
                prompts = 3,
                tree = new[] { new { node = 3, left = 0, right = 1, score = 0.1, count = 2 }, new { node = 4, left = 3, right = 2, score = 0.9, count = 3 } },
                segments = new[]
                {
                    new { node = 2, start = 0, end = 4, source = -1, members = new[] { 2 }, score = 0.0 },
                    new { node = 3, start = 0, end = 2, source = -1, members = new[] { 0, 1 }, score = 0.1 },
                    new { node = 0, start = 2, end = 4, source = 3, members = new[] { 0 }, score = 0.0 },
                    new { node = 1, start = 2, end = 4, source = 3, members = new[] { 1 }, score = 0.0 },
                },
            }));
        }

        return run;
    }

    private static byte[] Png(byte shade)
    {
        var pixels = new byte[16 * 16 * 3];
        Array.Fill(pixels, shade);
        return PngEncoder.Encode(new RgbImage(16, 16, pixels));
    }
}
