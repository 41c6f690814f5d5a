using System.Buffers.Binary;
using System.Text;

namespace HierDiff.Cli.Tests;

/// <summary><c>hierdiff generate</c> as a user runs it, on a tiny model in the real export layout.</summary>
public sealed class GenerateCommandTests : IDisposable
{
    private static readonly string[] Prompts = ShapePrompts.FiveInThreeGroups;

    private readonly TinyGenerationInputs _inputs = new("hierdiff-cli-", Prompts);

    public void Dispose() => _inputs.Dispose();

    private string Out(string name) => _inputs.Sub(name);

    private CliRunner.Result Generate(string outName, params string[] extra) =>
        CliRunner.Run(["generate", "--prompts", _inputs.PromptFile, "--model", _inputs.Model, "--out", Out(outName), "--steps", "6", .. extra]);

    [Fact]
    public void WritesOneImagePerPromptAndAManifest()
    {
        CliRunner.Result result = Generate("run", "--target-savings", "0.4", "--seed", "5");
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("savings", result.Stdout);

        string[] images = Directory.GetFiles(Path.Combine(Out("run"), "images")).Select(Path.GetFileName).Order().ToArray()!;
        Assert.Equal(["0000.png", "0001.png", "0002.png", "0003.png", "0004.png"], images);

        using JsonDocument manifest = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Out("run"), "manifest.json")));
        JsonElement m = manifest.RootElement;
        Assert.Equal("hierarchical", m.GetProperty("mode").GetString());
        Assert.Equal("tiny-sd", m.GetProperty("model").GetString());
        Assert.Equal(5, m.GetProperty("prompts").GetArrayLength());
        Assert.Equal(Prompts[1], m.GetProperty("prompts")[1].GetProperty("text").GetString());
        Assert.Equal("images/0001.png", m.GetProperty("images")[1].GetString());
        Assert.Equal(6, m.GetProperty("steps").GetInt32());
        Assert.Equal(5UL, m.GetProperty("seed").GetUInt64());
        // The tiny export's own scheduler, PNDM: 6 steps are 7 denoiser calls.
        Assert.Equal("pndm", m.GetProperty("scheduler").GetString());
        Assert.Equal("model", m.GetProperty("scheduler_from").GetString());
        Assert.Equal(7.5, m.GetProperty("guidance").GetDouble());
        Assert.Equal(5 * 7, m.GetProperty("standard_denoiser_calls").GetInt64());
        Assert.True(m.GetProperty("savings").GetDouble() >= 0.4);
        Assert.Equal(1 - (m.GetProperty("denoiser_calls").GetDouble() / 35), m.GetProperty("savings").GetDouble(), 12);
        Assert.True(m.GetProperty("tau").GetDouble() > 0);
        foreach (string phase in new[] { "total_s", "encode_s", "cluster_s", "denoise_s", "decode_s" })
        {
            Assert.True(m.GetProperty("timings").GetProperty(phase).GetDouble() >= 0, phase);
        }

        Dictionary<string, string> text = PngText(File.ReadAllBytes(Path.Combine(Out("run"), "images", "0001.png")));
        Assert.Equal(Prompts[1], text["prompt"]);
        Assert.Equal("5", text["seed"]);
        Assert.Equal("6", text["steps"]);
        Assert.Equal("tiny-sd", text["model"]);
        Assert.Equal(m.GetProperty("tau").GetDouble(), double.Parse(text["tau"], System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void TauZeroGivesStandardGenerationsPixels_WithAnExactTreeOrAShardedOne()
    {
        Assert.Equal(0, Generate("tau0", "--tau", "0").ExitCode);
        Assert.Equal(0, Generate("tau0-sharded", "--tau", "0", "--max-exact", "2").ExitCode);
        Assert.Equal(0, Generate("standard", "--mode", "standard").ExitCode);
        for (int i = 0; i < Prompts.Length; i++)
        {
            string name = $"{i:0000}.png";
            Assert.Equal(ImageData(Path.Combine(Out("tau0"), "images", name)), ImageData(Path.Combine(Out("standard"), "images", name)));
            Assert.Equal(ImageData(Path.Combine(Out("tau0-sharded"), "images", name)), ImageData(Path.Combine(Out("standard"), "images", name)));
        }

        using JsonDocument manifest = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Out("tau0-sharded"), "manifest.json")));
        Assert.Equal("sharded", manifest.RootElement.GetProperty("tree").GetProperty("kind").GetString());
    }

    [Fact]
    public void AShardedRunsFolderHoldsItsSummaryAndAManifestPerShard_WhichReportAndOverwriteKnow()
    {
        Assert.Equal(0, Generate("sharded", "--tau", "1", "--max-exact", "2").ExitCode);
        string run = Out("sharded");
        using (JsonDocument manifest = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(run, "manifest.json"))))
        {
            JsonElement m = manifest.RootElement;
            Assert.Equal(0, m.GetProperty("prompts").GetArrayLength());
            JsonElement[] shards = [.. m.GetProperty("shards").EnumerateArray()];
            Assert.Equal(m.GetProperty("tree").GetProperty("shards").GetInt32(), shards.Length);
            var listed = new List<string>();
            foreach (JsonElement shard in shards)
            {
                Assert.Equal("succeeded", shard.GetProperty("status").GetString());
                using JsonDocument own = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(run, shard.GetProperty("manifest").GetString()!)));
                listed.AddRange(own.RootElement.GetProperty("prompts").EnumerateArray().Select(p => p.GetProperty("text").GetString()!));
            }

            Assert.Equal(Prompts.Order(), listed.Order());
        }

        // The report finds every prompt through the shards' manifests.
        CliRunner.Result report = CliRunner.Run("report", "--run", run);
        Assert.True(report.ExitCode == 0, report.Stderr);
        string html = File.ReadAllText(Path.Combine(run, "report.html"));
        Assert.All(Prompts, p => Assert.Contains(System.Net.WebUtility.HtmlEncode(p), html));
        Assert.Matches("<th>shards</th><td>[0-9]+, all succeeded; [0-9]+ denoiser calls shared above them", html);

        // --overwrite knows shards/ as the run's own, and still refuses a user's file in it.
        Assert.Equal(0, Generate("sharded", "--tau", "1", "--max-exact", "2", "--overwrite").ExitCode);
        File.WriteAllText(Path.Combine(run, "shards", "notes.txt"), "mine");
        CliRunner.Result refused = Generate("sharded", "--tau", "1", "--max-exact", "2", "--overwrite");
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("shards/notes.txt", refused.Stderr);
        Assert.Equal("mine", File.ReadAllText(Path.Combine(run, "shards", "notes.txt")));
    }

    [Fact]
    public void ThePaperPresetRunsTheAuthorsSettingsAndTheManifestRecordsIt()
    {
        CliRunner.Result result = Generate("paper", "--preset", "paper");
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("preset", result.Stdout);
        using JsonDocument manifest = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Out("paper"), "manifest.json")));
        JsonElement m = manifest.RootElement;
        Assert.Equal("paper", m.GetProperty("preset").GetString());
        Assert.Equal("shared", m.GetProperty("starting_latent").GetString());
        Assert.Equal("ddpm", m.GetProperty("scheduler").GetString());
        Assert.Equal("preset", m.GetProperty("scheduler_from").GetString());
        Assert.Equal(10.0, m.GetProperty("guidance").GetDouble());
        Assert.Equal(1.0, m.GetProperty("tau").GetDouble());
        Assert.Equal(42UL, m.GetProperty("seed").GetUInt64());
        Assert.Equal(32, m.GetProperty("max_batch").GetInt32());
        Assert.Equal("shared", PngText(File.ReadAllBytes(Path.Combine(Out("paper"), "images", "0002.png")))["starting_latent"]);

        // The same run spelt out option by option gives the same bytes; without a preset nothing is recorded.
        Assert.Equal(0, Generate("spelt", "--scheduler", "ddpm", "--guidance", "10", "--starting-latent", "shared", "--tau", "1").ExitCode);
        Assert.Equal(File.ReadAllBytes(Path.Combine(Out("paper"), "images", "0002.png")), File.ReadAllBytes(Path.Combine(Out("spelt"), "images", "0002.png")));
        Assert.Equal(0, Generate("plain").ExitCode);
        using JsonDocument plain = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Out("plain"), "manifest.json")));
        Assert.Equal(JsonValueKind.Null, plain.RootElement.GetProperty("preset").ValueKind);
        Assert.Equal("per_prompt", plain.RootElement.GetProperty("starting_latent").GetString());
        Assert.False(PngText(File.ReadAllBytes(Path.Combine(Out("plain"), "images", "0002.png"))).ContainsKey("starting_latent"));
    }

    [Fact]
    public void TheSameInputsGiveTheSameBytes()
    {
        Assert.Equal(0, Generate("a", "--tau", "1").ExitCode);
        Assert.Equal(0, Generate("b", "--tau", "1").ExitCode);
        Assert.Equal(File.ReadAllBytes(Path.Combine(Out("a"), "images", "0003.png")), File.ReadAllBytes(Path.Combine(Out("b"), "images", "0003.png")));
    }

    [Fact]
    public void ANonEmptyOutputFolderIsRefusedUnlessOverwriteAndItHoldsAPreviousRun()
    {
        Assert.Equal(0, Generate("busy", "--seed", "1").ExitCode);

        CliRunner.Result refused = Generate("busy");
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("the output folder exists and is not empty", refused.Stderr);
        Assert.Contains("\"seed\": 1,", File.ReadAllText(Path.Combine(Out("busy"), "manifest.json")));

        Assert.Equal(0, Generate("busy", "--overwrite", "--seed", "2").ExitCode);
        Assert.Contains("\"seed\": 2,", File.ReadAllText(Path.Combine(Out("busy"), "manifest.json")));
    }

    [Theory]
    [InlineData("prompts (1).txt")]
    [InlineData("café.txt")]
    [InlineData("prompts+v2.txt")]
    [InlineData("a,b.txt")]
    [InlineData("x'y \"z\".txt")]
    [InlineData("100%.txt")]
    public void OrdinaryPromptFileNamesWork(string name)
    {
        string renamed = _inputs.Sub(name);
        File.Copy(_inputs.PromptFile, renamed);
        CliRunner.Result result = CliRunner.Run("generate", "--prompts", renamed, "--model", _inputs.Model, "--out", Out("named"), "--steps", "2");
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Equal(Prompts.Length, Directory.GetFiles(Path.Combine(Out("named"), "images")).Length);
    }

    [Fact]
    public void ANegativePromptOverTheLengthLimitIsRefusedNamingTheSetting() => AssertRefused(
        Generate("out", "--negative-prompt", new string('x', 2001)),
        "--negative-prompt (options.negative_prompt): is 2001 characters long; the limit is 2000 (the setting HierDiff__MaxPromptLength)");

    [Fact]
    public void AMissingModelFileIsNamed()
    {
        BrokenModels.DeleteFile(_inputs.Model, "vae_decoder/model.onnx");
        AssertRefused(Generate("out"), "missing vae_decoder/model.onnx");
    }

    [Fact]
    public void AModelWithWrongInputNamesIsNamed()
    {
        BrokenModels.RenameUNetInput(_inputs.Model, "encoder_hidden_states", "hidden_states");
        AssertRefused(Generate("out"), "unet/model.onnx: expected inputs sample");
    }

    [Theory]
    [InlineData("'heun'", "--scheduler", "heun")]
    [InlineData("--device cuda:0:", "--device", "cuda:0")]
    [InlineData("--mode (options.mode): 'fast' is not a mode", "--mode", "fast")]
    [InlineData("--max-batch (options.max_batch): must be from 1 to 1024, not 0", "--max-batch", "0")]
    [InlineData("--max-exact (options.max_exact): must be from 2 to 30000 prompts (their distances take 4 bytes x N^2), not 40000", "--max-exact", "40000")]
    [InlineData("--guidance (options.guidance): must be a number from 0 to 100, not 1E+308", "--guidance", "1e308")]
    [InlineData("--preset (options.preset): 'papers' is not a preset; use paper", "--preset", "papers")]
    [InlineData("--starting-latent (options.starting_latent): 'random' is not a starting latent; use per-prompt or shared", "--starting-latent", "random")]
    [InlineData("--tau expects a finite number, not 'NaN'", "--tau", "NaN")]
    [InlineData("--tau expects a finite number, not 'Infinity'", "--tau", "Infinity")]
    [InlineData("--tau expects a finite number, not '1e400'", "--tau", "1e400")]
    [InlineData("--target-savings expects a finite number, not 'NaN'", "--target-savings", "NaN")]
    [InlineData("--tau (options.tau): must be a finite number of 0 or more, not -1", "--tau", "-1")]
    [InlineData("--target-savings (options.target_savings): 0.9 is out of reach: 5 prompts can save at most 0.8", "--target-savings", "0.9")]
    [InlineData("--storage: not a storage connection string", "--storage", "garbage")]
    [InlineData("--storage: cannot reach the storage account at http://127.0.0.1:9/acct", "--storage", "DefaultEndpointsProtocol=http;AccountName=acct;AccountKey=YQ==;BlobEndpoint=http://127.0.0.1:9/acct;")]
    public void BadOptionsAreRefused(string expected, params string[] options) => AssertRefused(Generate("out", options), expected);

    [Fact]
    public void AnExportWhoseSchedulerHierDiffLacksIsRefusedUnlessTheUserPicksOne()
    {
        string config = Path.Combine(_inputs.Model, "scheduler", "scheduler_config.json");
        File.WriteAllText(config, File.ReadAllText(config).Replace("PNDMScheduler", "HeunDiscreteScheduler", StringComparison.Ordinal));
        AssertRefused(Generate("out"), "key '_class_name' is 'HeunDiscreteScheduler', a scheduler HierDiff does not have; supported: DDPMScheduler");
        Assert.Contains("Pick one with --scheduler NAME", Generate("out").Stderr);

        CliRunner.Result picked = Generate("picked", "--scheduler", "ddim");
        Assert.True(picked.ExitCode == 0, picked.Stderr);
        using JsonDocument manifest = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Out("picked"), "manifest.json")));
        Assert.Equal("ddim", manifest.RootElement.GetProperty("scheduler").GetString());
        Assert.Equal("option", manifest.RootElement.GetProperty("scheduler_from").GetString());
    }

    [Fact]
    public void AnUnreadablePromptFileIsRefusedAndNothingIsWritten()
    {
        File.WriteAllBytes(_inputs.PromptFile, [0x61, 0x0A, 0x00, 0x01, 0x02]);
        AssertRefused(Generate("out"), "prompts.txt:2: NUL byte");
    }

    private void AssertRefused(CliRunner.Result result, string expected)
    {
        Assert.Equal(2, result.ExitCode);
        string line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(expected, line);
        Assert.False(Directory.Exists(Out("out")), "a refused run must leave no output folder");
        Assert.Empty(Directory.GetFileSystemEntries(_inputs.Root, ".out.*"));
    }

    private static IEnumerable<(string Type, byte[] Data)> Chunks(byte[] png)
    {
        for (int pos = 8; pos < png.Length;)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(pos));
            yield return (Encoding.ASCII.GetString(png, pos + 4, 4), png[(pos + 8)..(pos + 8 + length)]);
            pos += 12 + length;
        }
    }

    /// <summary>The compressed pixels: equal when the pixels are, since compression is deterministic.</summary>
    private static byte[] ImageData(string path) => Chunks(File.ReadAllBytes(path)).Where(c => c.Type == "IDAT").SelectMany(c => c.Data).ToArray();

    private static Dictionary<string, string> PngText(byte[] png) => Chunks(png)
        .Where(c => c.Type is "tEXt" or "iTXt")
        .ToDictionary(
            c => Encoding.Latin1.GetString(c.Data, 0, Array.IndexOf(c.Data, (byte)0)),
            c => c.Type == "tEXt"
                ? Encoding.Latin1.GetString(c.Data[(Array.IndexOf(c.Data, (byte)0) + 1)..])
                : Encoding.UTF8.GetString(c.Data[(Array.IndexOf(c.Data, (byte)0) + 5)..]));
}
