namespace HierDiff.Cli.Tests;

/// <summary><c>hierdiff bench</c> as a user runs it, on a tiny model in the real export layout.</summary>
public sealed class BenchCommandTests : IDisposable
{
    private static readonly string[] Prompts = ShapePrompts.SixInThreeGroups;

    private readonly TinyGenerationInputs _inputs = new("hierdiff-bench-", Prompts);

    public void Dispose() => _inputs.Dispose();

    [Fact]
    public void RunsStandardHierarchicalAndStandardWithTheSameCallsSideBySide()
    {
        string output = _inputs.Sub("bench");
        CliRunner.Result result = CliRunner.Run("bench", "--prompts", _inputs.PromptFile, "--model", _inputs.Model, "--out", output, "--steps", "8", "--targets", "0.5");
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("| run | denoiser calls |", result.Stdout);
        Assert.Equal(result.Stdout[..result.Stdout.IndexOf("written:", StringComparison.Ordinal)], File.ReadAllText(Path.Combine(output, "bench.md")));

        using JsonDocument bench = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(output, "bench.json")));
        JsonElement[] rows = [.. bench.RootElement.EnumerateArray()];
        Assert.Equal(3, rows.Length);
        (JsonElement standard, JsonElement hierarchical, JsonElement fewer) = (rows[0], rows[1], rows[2]);
        // The tiny export's scheduler, PNDM: 8 steps are 9 denoiser calls.
        Assert.Equal(9 * Prompts.Length, standard.GetProperty("denoiser_calls").GetInt64());
        Assert.Equal(1.0, standard.GetProperty("wall_ratio").GetDouble());
        Assert.True(hierarchical.GetProperty("savings").GetDouble() >= 0.5);

        // Wall time beside calls, both against standard's; and how full the model calls were, from each manifest.
        Assert.Contains("| calls / standard | wall s | wall / standard | batch fill |", result.Stdout);
        Assert.Equal(1 - hierarchical.GetProperty("savings").GetDouble(), hierarchical.GetProperty("calls_ratio").GetDouble(), 12);
        foreach (JsonElement row in rows)
        {
            using JsonDocument manifest = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(output, row.GetProperty("folder").GetString()!, "manifest.json")));
            Assert.Equal(manifest.RootElement.GetProperty("model_calls").GetProperty("mean_fill").GetDouble(), row.GetProperty("mean_batch_fill").GetDouble());
        }

        // The fixed-budget baseline: standard generation with the hierarchical run's calls per image, as steps.
        int calls = (int)Math.Round(hierarchical.GetProperty("denoiser_calls").GetDouble() / Prompts.Length);
        Assert.Equal(calls - 1, fewer.GetProperty("steps").GetInt32());
        Assert.Equal(calls * Prompts.Length, fewer.GetProperty("denoiser_calls").GetInt64());

        // Each run is a full run folder, scored (the prompts are the shapes world's) and compared with standard.
        foreach (JsonElement row in rows)
        {
            string folder = Path.Combine(output, row.GetProperty("folder").GetString()!);
            Assert.Equal(Prompts.Length, Directory.GetFiles(Path.Combine(folder, "images"), "*.png").Length);
            Assert.True(File.Exists(Path.Combine(folder, "scores.json")));
            Assert.InRange(row.GetProperty("mean_score").GetDouble(), 0, 1);
        }

        Assert.Equal(Prompts.Length, hierarchical.GetProperty("wins_ties_losses").GetString()!.Split(" / ").Sum(int.Parse));
    }

    [Fact]
    public void TwoModelsAreBenchedOnTheSamePromptsAndComparedSideBySide()
    {
        string kandinsky = TinyExports.Write("kandinsky22", _inputs.Sub("tiny-kandinsky"));
        string output = _inputs.Sub("two");
        CliRunner.Result result = CliRunner.Run(
            "bench", "--prompts", _inputs.PromptFile, "--model", _inputs.Model, "--model", kandinsky, "--out", output, "--steps", "4", "--targets", "0.5");
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Equal(result.Stdout[..result.Stdout.IndexOf("written:", StringComparison.Ordinal)], File.ReadAllText(Path.Combine(output, "models.md")));
        Assert.Contains("| run | tiny-sd: steps | calls / image | savings | mean score | win % vs standard | tiny-kandinsky: steps |", result.Stdout);
        foreach (string model in new[] { "tiny-sd", "tiny-kandinsky" })
        {
            using JsonDocument bench = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(output, model, "bench.json")));
            JsonElement[] rows = [.. bench.RootElement.EnumerateArray()];
            Assert.Equal(3, rows.Length);
            Assert.True(rows[1].GetProperty("savings").GetDouble() >= 0.5, model);
            Assert.Contains($"| {rows[1].GetProperty("savings").GetDouble():0.0%} |", result.Stdout);
        }

        string[] lines = result.Stdout.Split('\n');
        Assert.Single(lines, l => l.StartsWith("| hierarchical, 0.5 target |", StringComparison.Ordinal));
    }

    [Fact]
    public void TwoModelsOfTheSameNameAreRefused()
    {
        string other = _inputs.Sub(Path.Combine("elsewhere", Path.GetFileName(_inputs.Model)));
        Directory.CreateDirectory(Path.GetDirectoryName(other)!);
        CopyFolder(_inputs.Model, other);
        CliRunner.Result result = CliRunner.Run("bench", "--prompts", _inputs.PromptFile, "--model", _inputs.Model, other, "--out", _inputs.Sub("same"));
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--model: each model's folder needs its own name", result.Stderr);
        Assert.False(Directory.Exists(_inputs.Sub("same")));
    }

    private static void CopyFolder(string from, string to)
    {
        foreach (string file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
        {
            string target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    [Fact]
    public void EachRunIsMadeAsManyTimesAsRoundsSaysWithTheSameImages()
    {
        string once = _inputs.Sub("once");
        string thrice = _inputs.Sub("thrice");
        Assert.Equal(0, CliRunner.Run("bench", "--prompts", _inputs.PromptFile, "--model", _inputs.Model, "--out", once, "--steps", "4", "--targets", "0.5").ExitCode);
        CliRunner.Result result = CliRunner.Run("bench", "--prompts", _inputs.PromptFile, "--model", _inputs.Model, "--out", thrice, "--steps", "4", "--targets", "0.5", "--rounds", "3");
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("round 2 of 3", result.Stderr);
        Assert.Contains("round 3 of 3", result.Stderr);
        Assert.Contains("each the fastest of 3 rounds", result.Stdout);
        foreach (string folder in new[] { "standard", "hierarchical-0.5" })
        {
            string[] images = Directory.GetFiles(Path.Combine(once, folder, "images"), "*.png").Order().ToArray();
            Assert.Equal(images.Select(File.ReadAllBytes), images.Select(f => File.ReadAllBytes(Path.Combine(thrice, folder, "images", Path.GetFileName(f)))));
        }
    }

    [Theory]
    [InlineData("0")]
    [InlineData("11")]
    public void RoundsOutsideOneToTenAreRefusedBeforeAnyRun(string rounds)
    {
        CliRunner.Result result = CliRunner.Run("bench", "--prompts", _inputs.PromptFile, "--model", _inputs.Model, "--out", _inputs.Sub("r"), "--rounds", rounds);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"--rounds must be 1 to 10, not {rounds}", result.Stderr);
        Assert.False(Directory.Exists(_inputs.Sub("r")));
    }

    [Fact]
    public void ATargetOutsideZeroToOneIsRefusedNamingTheOption()
    {
        CliRunner.Result result = CliRunner.Run("bench", "--prompts", _inputs.PromptFile, "--model", _inputs.Model, "--out", _inputs.Sub("b"), "--targets", "60");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--targets", result.Stderr);
        Assert.False(Directory.Exists(_inputs.Sub("b")));
    }
}
