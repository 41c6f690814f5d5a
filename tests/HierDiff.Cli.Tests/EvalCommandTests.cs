using HierDiff.Models.Images;
using HierDiff.ShapesWorld.Evaluation;
using HierDiff.ShapesWorld.World;

namespace HierDiff.Cli.Tests;

/// <summary><c>hierdiff eval</c> and <c>hierdiff compare</c> on run folders laid out as <c>hierdiff generate</c> writes them.</summary>
public sealed class EvalCommandTests : IDisposable
{
    private static readonly string[] Prompts =
    [
        "a large red circle on a blue background",
        "a green square on a white background, striped",
        "yellow background with a small purple triangle at the left",
        "a dotted black circle in the top, orange background",
    ];

    private readonly TempDirectory _temp = new("hierdiff-eval-cli-");

    public void Dispose() => _temp.Dispose();

    /// <summary>A run of <see cref="Prompts"/> whose images show what the prompts say, except where <paramref name="wrongKind"/>.</summary>
    private string Run(string name, double savings, Func<int, bool>? wrongKind = null)
    {
        string folder = _temp.Sub(name);
        Directory.CreateDirectory(Path.Combine(folder, "images"));
        var random = new Random(7);
        var entries = new List<object>();
        for (int i = 0; i < Prompts.Length; i++)
        {
            Scene scene = PromptWriter.Realise(PromptParser.Parse(Prompts[i]), random);
            if (wrongKind?.Invoke(i) == true)
            {
                scene = scene with { Kind = scene.Kind == ShapeKind.Square ? ShapeKind.Circle : ShapeKind.Square };
            }

            string image = $"images/{i:0000}.png";
            File.WriteAllBytes(Path.Combine(folder, image), PngEncoder.Encode(new RgbImage(64, 64, SceneRenderer.Render(scene))));
            entries.Add(new { index = i, text = Prompts[i], image, tokens = 10, truncated = false });
        }

        File.WriteAllText(Path.Combine(folder, "manifest.json"), JsonSerializer.Serialize(new { mode = "hierarchical", prompts = entries, steps = 10, savings }));
        return folder;
    }

    [Fact]
    public void EvalWritesScoresAndPrintsTheMeans()
    {
        string run = Run("run", 0.5);
        CliRunner.Result result = CliRunner.Run("eval", "--run", run);
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("mean score", result.Stdout);
        Assert.Contains("diversity", result.Stdout);
        Assert.Contains("pattern", result.Stdout);

        using JsonDocument scores = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(run, "scores.json")));
        Assert.Equal(4, scores.RootElement.GetProperty("images").GetArrayLength());
        Assert.True(scores.RootElement.GetProperty("mean_score").GetDouble() > 0.9);
        Assert.Equal(Prompts[2], scores.RootElement.GetProperty("images")[2].GetProperty("prompt").GetString());
    }

    [Fact]
    public void CompareCountsWinsTiesAndLosses()
    {
        string a = Run("a", 0.5);
        string b = Run("b", 0, i => i == 1);
        string outPath = Path.Combine(_temp.Path, "out", "cmp.json");
        CliRunner.Result result = CliRunner.Run("compare", a, b, "--out", outPath);
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("1 / 3 / 0", result.Stdout);
        Assert.Contains("62.5%", result.Stdout);
        Assert.Contains("50.00%", result.Stdout);

        using JsonDocument compare = JsonDocument.Parse(File.ReadAllBytes(outPath));
        JsonElement c = compare.RootElement;
        Assert.Equal((1, 3, 0), (c.GetProperty("wins").GetInt32(), c.GetProperty("ties").GetInt32(), c.GetProperty("losses").GetInt32()));
        Assert.Equal(62.5, c.GetProperty("win_percent").GetDouble());
        Assert.True(c.GetProperty("mean_score_difference").GetDouble() > 0);
        Assert.Equal(0.5, c.GetProperty("savings_a").GetDouble());
        Assert.Equal(0, c.GetProperty("savings_b").GetDouble());

        CliRunner.Result self = CliRunner.Run("compare", a, a);
        Assert.True(self.ExitCode == 0, self.Stderr);
        using JsonDocument same = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(a, "compare.json")));
        Assert.Equal(4, same.RootElement.GetProperty("ties").GetInt32());
        Assert.Equal(50, same.RootElement.GetProperty("win_percent").GetDouble());
    }

    [Fact]
    public void BadRunsAreOneLineErrors()
    {
        CliRunner.Result noManifest = CliRunner.Run("eval", "--run", _temp.Path);
        Assert.Equal(2, noManifest.ExitCode);
        Assert.StartsWith("error: ", noManifest.Stderr);
        Assert.Contains("manifest.json", noManifest.Stderr);
        Assert.Single(noManifest.Stderr.TrimEnd().Split('\n'));

        string a = Run("a", 0);
        File.Delete(Path.Combine(a, "images", "0002.png"));
        CliRunner.Result missing = CliRunner.Run("eval", "--run", a);
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("images/0002.png", missing.Stderr);

        string b = Run("b", 0);
        string c = Run("c", 0);
        string manifest = File.ReadAllText(Path.Combine(c, "manifest.json")).Replace("a large red circle", "a large blue circle", StringComparison.Ordinal);
        File.WriteAllText(Path.Combine(c, "manifest.json"), manifest);
        CliRunner.Result mismatched = CliRunner.Run("compare", b, c);
        Assert.Equal(2, mismatched.ExitCode);
        Assert.Contains("different prompts", mismatched.Stderr);
    }
}
