using System.Text.Json;
using HierDiff.TestModels;

namespace HierDiff.Cli.Tests;

/// <summary><c>hierdiff bench</c> as a user runs it, on a tiny model in the real export layout.</summary>
public sealed class BenchCommandTests : IDisposable
{
    private static readonly string[] Prompts =
    [
        "a red circle on a blue background",
        "a red circle on a blue background, striped",
        "a red circle on a blue background, dotted",
        "a green square on a white background",
        "a green square on a white background, checkered",
        "a yellow triangle on a black background",
    ];

    private readonly string _root = Path.Combine(Path.GetTempPath(), "hierdiff-bench-" + Guid.NewGuid().ToString("N"));
    private readonly string _model;
    private readonly string _prompts;

    public BenchCommandTests()
    {
        Directory.CreateDirectory(_root);
        _model = TinyStableDiffusion.Write(Path.Combine(_root, "tiny-sd"));
        _prompts = Path.Combine(_root, "prompts.txt");
        File.WriteAllLines(_prompts, Prompts);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void RunsStandardHierarchicalAndStandardWithTheSameCallsSideBySide()
    {
        string output = Path.Combine(_root, "bench");
        CliRunner.Result result = CliRunner.Run("bench", "--prompts", _prompts, "--model", _model, "--out", output, "--steps", "8", "--targets", "0.5");
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
    public void ATargetOutsideZeroToOneIsRefusedNamingTheOption()
    {
        CliRunner.Result result = CliRunner.Run("bench", "--prompts", _prompts, "--model", _model, "--out", Path.Combine(_root, "b"), "--targets", "60");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--targets", result.Stderr);
        Assert.False(Directory.Exists(Path.Combine(_root, "b")));
    }
}
