using HierDiff.Models.Clip;
using HierDiff.Models.Images;
using HierDiff.ShapesWorld.Evaluation;

namespace HierDiff.Cli.Tests;

/// <summary><c>eval</c>, <c>compare</c> and <c>tune</c> with <c>--evaluator</c>: a CLIP export in optimum's layout (the
/// tiny random fixture) scoring runs of prompts the shapes world cannot read.</summary>
public sealed class ClipEvalCommandTests : IDisposable
{
    private static readonly string[] Prompts =
    [
        "a photograph of an astronaut riding a horse",
        "an astronaut riding a horse, oil painting",
        "a bowl of ramen on a wooden table",
        "a bowl of ramen, watercolour",
        "a lighthouse at dusk",
        "a lighthouse at dawn, long exposure",
    ];

    private readonly TinyGenerationInputs _inputs = new("hierdiff-clip-eval-", Prompts);
    private readonly string _clip;

    public ClipEvalCommandTests()
    {
        _clip = TinyClip.Write(_inputs.Sub("clip-vit-tiny"));
    }

    public void Dispose() => _inputs.Dispose();

    private string Generate(string name, params string[] extra)
    {
        string run = _inputs.Sub(name);
        CliRunner.Result result = CliRunner.Run(["generate", "--prompts", _inputs.PromptFile, "--model", _inputs.Model, "--out", run, "--steps", "4", .. extra]);
        Assert.True(result.ExitCode == 0, result.Stderr);
        return run;
    }

    [Fact]
    public void EvalWritesClipScoresInTheSameShape_EachOneHundredTimesThePositiveCosine_TheSameBytesTwice()
    {
        string run = Generate("run");
        CliRunner.Result result = CliRunner.Run("eval", "--run", run, "--evaluator", _clip);
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("clip:clip-vit-tiny", result.Stdout);
        Assert.Contains("mean CLIP score", result.Stdout);
        byte[] first = File.ReadAllBytes(Path.Combine(run, "scores.json"));

        using JsonDocument scores = JsonDocument.Parse(first);
        JsonElement root = scores.RootElement;
        Assert.Equal(
            ["evaluator", "tie_threshold", "mode", "savings", "denoiser_calls", "mean_score", "diversity", "diversity_images", "diversity_seed", "images"],
            root.EnumerateObject().Select(p => p.Name));
        Assert.Equal("clip:clip-vit-tiny", root.GetProperty("evaluator").GetString());
        Assert.Equal(0.5, root.GetProperty("tie_threshold").GetDouble());
        JsonElement[] images = [.. root.GetProperty("images").EnumerateArray()];
        Assert.Equal(Prompts.Length, images.Length);
        Assert.Equal(Prompts.Length, root.GetProperty("diversity_images").GetInt32());

        // Each score, recomputed from the PNG with the model one image at a time.
        using ClipModel clip = ClipModel.Load(_clip);
        var embeddings = new List<float[]>();
        for (int i = 0; i < images.Length; i++)
        {
            Assert.Equal(Prompts[i], images[i].GetProperty("prompt").GetString());
            double cosine = images[i].GetProperty("cosine").GetDouble();
            Assert.Equal(100 * Math.Max(cosine, 0), images[i].GetProperty("score").GetDouble(), 10);
            PngImage png = PngDecoder.Decode(File.ReadAllBytes(Path.Combine(run, images[i].GetProperty("image").GetString()!)));
            (float[][] t, float[][] e) = clip.Embed([Prompts[i]], [new RgbImage(png.Width, png.Height, png.Rgb)]);
            Assert.Equal(ClipModel.Cosine(t[0], e[0]), cosine, 4);
            embeddings.Add(e[0]);
        }

        Assert.Equal(images.Average(i => i.GetProperty("score").GetDouble()), root.GetProperty("mean_score").GetDouble(), 10);
        double pairs = 0, sum = 0;
        for (int i = 0; i < embeddings.Count; i++)
        {
            for (int j = i + 1; j < embeddings.Count; j++)
            {
                sum += ClipModel.Cosine(embeddings[i], embeddings[j]);
                pairs++;
            }
        }

        Assert.Equal(sum / pairs, root.GetProperty("diversity").GetDouble(), 4);

        Assert.Equal(0, CliRunner.Run("eval", "--run", run, "--evaluator", _clip).ExitCode);
        Assert.Equal(first, File.ReadAllBytes(Path.Combine(run, "scores.json")));
    }

    [Fact]
    public void CompareUsesTheEvaluatorTheScoresNameAndItsTieThreshold_AndAskForScoresItCannotMake()
    {
        string hierarchical = Generate("hierarchical", "--target-savings", "0.4");
        string standard = Generate("standard", "--mode", "standard");
        Assert.Equal(0, CliRunner.Run("eval", "--run", hierarchical, "--evaluator", _clip).ExitCode);

        // The standard run has no CLIP scores and compare has no CLIP model to make them: it says how.
        CliRunner.Result refused = CliRunner.Run("compare", hierarchical, standard);
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("has no scores by clip:clip-vit-tiny", refused.Stderr);
        Assert.Contains("--evaluator", refused.Stderr);
        Assert.False(File.Exists(Path.Combine(standard, "scores.json")));

        CliRunner.Result compared = CliRunner.Run("compare", hierarchical, standard, "--evaluator", _clip);
        Assert.True(compared.ExitCode == 0, compared.Stderr);
        Assert.Contains("clip:clip-vit-tiny (a tie is within 0.5)", compared.Stdout);
        using JsonDocument compare = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(hierarchical, "compare.json")));
        JsonElement c = compare.RootElement;
        Assert.Equal("clip:clip-vit-tiny", c.GetProperty("evaluator").GetString());
        Assert.Equal(0.5, c.GetProperty("tie_threshold").GetDouble());
        Assert.Equal(Prompts.Length, c.GetProperty("wins").GetInt32() + c.GetProperty("ties").GetInt32() + c.GetProperty("losses").GetInt32());

        // Now both runs hold CLIP scores, so compare reads them without the model.
        using JsonDocument standardScores = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(standard, "scores.json")));
        Assert.Equal("clip:clip-vit-tiny", standardScores.RootElement.GetProperty("evaluator").GetString());
        Assert.Equal(0, CliRunner.Run("compare", hierarchical, standard).ExitCode);
    }

    [Fact]
    public void TheShapesEvaluatorRefusesThesePrompts_AndSaysWhichPrompt()
    {
        string run = Generate("run");
        CliRunner.Result shapes = CliRunner.Run("eval", "--run", run);
        Assert.Equal(2, shapes.ExitCode);
        Assert.Contains("prompt 0", shapes.Stderr);
    }

    [Fact]
    public void TuneScoresTheLadderWithClip()
    {
        string output = _inputs.Sub("tune");
        CliRunner.Result result = CliRunner.Run(
            "tune", "--prompts", _inputs.PromptFile, "--model", _inputs.Model, "--out", output, "--steps", "4", "--max-calls", "60", "--min-win", "0", "--evaluator", _clip);
        Assert.True(result.ExitCode == 0, result.Stderr);
        using JsonDocument tune = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(output, "tune.json")));
        Assert.Equal("clip:clip-vit-tiny", tune.RootElement.GetProperty("evaluator").GetString());
        JsonElement[] settings = [.. tune.RootElement.GetProperty("settings").EnumerateArray()];
        Assert.NotEmpty(settings);
        using JsonDocument scores = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(output, settings[0].GetProperty("folder").GetString()!, "scores.json")));
        Assert.Equal("clip:clip-vit-tiny", scores.RootElement.GetProperty("evaluator").GetString());
        Assert.InRange(tune.RootElement.GetProperty("standard_mean_score").GetDouble(), 0, 100);
    }

    [Fact]
    public void ANonClipEvaluatorFolder_IsOneLineNamingIt()
    {
        string run = Generate("run");
        CliRunner.Result result = CliRunner.Run("eval", "--run", run, "--evaluator", _inputs.Model);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("not a CLIP ONNX export", result.Stderr);
        Assert.Single(result.Stderr.TrimEnd().Split('\n'));
        Assert.False(File.Exists(Path.Combine(run, "scores.json")));
    }

    [Fact]
    public void TheDiversitySample_IsAHundredImagesDrawnTheSameWayEveryTime()
    {
        Assert.Equal(Enumerable.Range(0, 60), Report.ClipEvaluator.DiversitySample(60));
        int[] drawn = Report.ClipEvaluator.DiversitySample(2_000);
        Assert.Equal(100, drawn.Distinct().Count());
        Assert.Equal(drawn.Order(), drawn);
        Assert.Equal(drawn, Report.ClipEvaluator.DiversitySample(2_000));
        Assert.True(drawn[^1] > 1_000, "the draw spans the run, not its start");
    }
}
