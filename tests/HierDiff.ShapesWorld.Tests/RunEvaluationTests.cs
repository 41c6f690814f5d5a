using System.Text.Json;
using HierDiff.Core;
using HierDiff.ShapesWorld.Evaluation;
using HierDiff.ShapesWorld.World;

namespace HierDiff.ShapesWorld.Tests;

public sealed class RunEvaluationTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "hierdiff-eval-" + Guid.NewGuid().ToString("N"));

    public RunEvaluationTests() => Directory.CreateDirectory(_root);

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string Folder(string name) => Path.Combine(_root, name);

    [Fact]
    public void WritesScoresForEachImageInPromptOrder()
    {
        string run = TestRuns.Write(Folder("run"), TestRuns.Prompts, TestRuns.Matching(TestRuns.Prompts, 1), 0.4, "hierarchical");
        RunScores scores = RunEvaluation.Evaluate(run);

        using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(run, "scores.json")));
        JsonElement root = doc.RootElement;
        JsonElement[] images = [.. root.GetProperty("images").EnumerateArray()];
        Assert.Equal(TestRuns.Prompts.Length, images.Length);
        for (int i = 0; i < images.Length; i++)
        {
            JsonElement image = images[i];
            Assert.Equal(TestRuns.Prompts[i], image.GetProperty("prompt").GetString());
            Assert.Equal($"images/{i:0000}.png", image.GetProperty("image").GetString());
            Assert.True(image.GetProperty("score").GetDouble() > 0.9, $"image {i}: {image}");
            SceneDescription said = PromptParser.Parse(TestRuns.Prompts[i]);
            Assert.True(image.TryGetProperty("shape_colour", out _));
            Assert.True(image.TryGetProperty("kind", out _));
            Assert.Equal(said.Background is not null, image.TryGetProperty("background", out _));
            Assert.Equal(said.Size is not null, image.TryGetProperty("size", out _));
            Assert.Equal(said.Position is not null, image.TryGetProperty("position", out _));
            Assert.Equal(said.Pattern is not null, image.TryGetProperty("pattern", out _));
            Assert.Equal(Palette.Name(said.ShapeColour), image.GetProperty("read").GetProperty("shape_colour").GetString());
        }

        Assert.Equal(images.Average(i => i.GetProperty("score").GetDouble()), root.GetProperty("mean_score").GetDouble(), 12);
        Assert.Equal(scores.MeanScore, root.GetProperty("mean_score").GetDouble(), 12);
        JsonElement means = root.GetProperty("attribute_means");
        Assert.Equal(
            images.Where(i => i.TryGetProperty("pattern", out _)).Average(i => i.GetProperty("pattern").GetDouble()),
            means.GetProperty("pattern").GetDouble(),
            12);
        Assert.Equal(6, means.EnumerateObject().Count());
        double diversity = root.GetProperty("diversity").GetDouble();
        Assert.InRange(diversity, -1, 1);
        Assert.Equal(0.4, root.GetProperty("savings").GetDouble());
        Assert.Equal("hierarchical", root.GetProperty("mode").GetString());
    }

    [Fact]
    public void ReadsLargerImagesAtTheWorldsSize()
    {
        string run = TestRuns.Write(Folder("large"), TestRuns.Prompts, TestRuns.Matching(TestRuns.Prompts, 2), 0, "standard", scale: 2);
        RunScores scores = RunEvaluation.Evaluate(run);
        Assert.All(scores.Images, i => Assert.True(i.Score > 0.9, $"{i.Prompt}: {i.Score}"));
    }

    [Fact]
    public void IdenticalImagesAreMaximallySimilar()
    {
        string[] prompts = ["a red circle", "a red circle", "a red circle"];
        var same = new Scene(ShapeKind.Circle, Colour.Red, Colour.Blue, ShapeSize.Large, Position.Center, Pattern.Solid);
        RunScores scores = RunEvaluation.Evaluate(TestRuns.Write(Folder("same"), prompts, _ => same, 0, "standard"));
        Assert.Equal(1, scores.Diversity!.Value, 9);

        RunScores varied = RunEvaluation.Evaluate(TestRuns.Write(Folder("varied"), TestRuns.Prompts, TestRuns.Matching(TestRuns.Prompts, 3), 0, "standard"));
        Assert.True(varied.Diversity < 0.9, $"{varied.Diversity}");
    }

    [Fact]
    public void ARunComparedWithItselfTiesEverywhere()
    {
        string run = TestRuns.Write(Folder("run"), TestRuns.Prompts, TestRuns.Matching(TestRuns.Prompts, 1), 0.5, "hierarchical");
        RunComparison c = RunEvaluation.Compare(run, run);
        Assert.Equal((7, 0, 7, 0), (c.Prompts, c.Wins, c.Ties, c.Losses));
        Assert.Equal(50, c.WinPercent);
        Assert.Equal(0, c.MeanScoreDifference);
        Assert.Equal(0.5, c.SavingsA);
        Assert.Equal(0.5, c.SavingsB);

        using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(run, "compare.json")));
        Assert.Equal(7, doc.RootElement.GetProperty("ties").GetInt32());
        Assert.Equal(50, doc.RootElement.GetProperty("win_percent").GetDouble());
        Assert.Equal(0.5, doc.RootElement.GetProperty("savings_a").GetDouble());
    }

    [Fact]
    public void ComparesTwoRunsImageByImage()
    {
        // A draws what each prompt says; B gets the kind wrong on the first three and is otherwise the same images.
        Func<int, Scene> right = TestRuns.Matching(TestRuns.Prompts, 4);
        string a = TestRuns.Write(Folder("a"), TestRuns.Prompts, right, 0.6, "hierarchical");
        string b = TestRuns.Write(Folder("b"), TestRuns.Prompts, i => i < 3 ? right(i) with { Kind = right(i).Kind == ShapeKind.Square ? ShapeKind.Triangle : ShapeKind.Square } : right(i), 0, "standard");
        Assert.False(File.Exists(Path.Combine(b, "scores.json")));
        string outPath = Path.Combine(Folder("reports"), "a-vs-b.json");

        RunComparison c = RunEvaluation.Compare(a, b, outPath);

        Assert.Equal((3, 4, 0), (c.Wins, c.Ties, c.Losses));
        Assert.Equal(100 * (3 + 2.0) / 7, c.WinPercent, 9);
        Assert.True(c.MeanScoreDifference > 0.1);
        Assert.Equal(c.MeanScoreA - c.MeanScoreB, c.MeanScoreDifference, 12);
        Assert.Equal((0.6, 0.0), (c.SavingsA!.Value, c.SavingsB!.Value));
        Assert.True(File.Exists(Path.Combine(a, "scores.json")));
        Assert.True(File.Exists(Path.Combine(b, "scores.json")));
        Assert.False(File.Exists(Path.Combine(a, "compare.json")));
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(outPath));
        Assert.Equal(3, doc.RootElement.GetProperty("wins").GetInt32());
        Assert.Equal(4, doc.RootElement.GetProperty("ties").GetInt32());
        Assert.Equal(0, doc.RootElement.GetProperty("losses").GetInt32());

        // The other way round, from the scores.json files now there.
        RunComparison back = RunEvaluation.Compare(b, a);
        Assert.Equal((0, 4, 3), (back.Wins, back.Ties, back.Losses));
        Assert.Equal(-c.MeanScoreDifference, back.MeanScoreDifference, 12);
    }

    [Fact]
    public void RefusesRunsOfDifferentPrompts()
    {
        string a = TestRuns.Write(Folder("a"), TestRuns.Prompts, TestRuns.Matching(TestRuns.Prompts, 1), 0, "standard");
        string[] other = [.. TestRuns.Prompts[..6], "a green triangle"];
        string b = TestRuns.Write(Folder("b"), other, TestRuns.Matching(other, 1), 0, "standard");
        string c = TestRuns.Write(Folder("c"), TestRuns.Prompts[..5], TestRuns.Matching(TestRuns.Prompts[..5], 1), 0, "standard");

        HierDiffInputException e = Assert.Throws<HierDiffInputException>(() => RunEvaluation.Compare(a, b));
        Assert.Contains("different prompts", e.Message);
        Assert.Contains("a green triangle", e.Message);
        Assert.Contains("7 prompts against 5", Assert.Throws<HierDiffInputException>(() => RunEvaluation.Compare(a, c)).Message);
        Assert.False(File.Exists(Path.Combine(a, "compare.json")));
    }

    [Fact]
    public void SaysWhatIsWrongWithABrokenRun()
    {
        Assert.Contains("has no manifest.json", Assert.Throws<HierDiffInputException>(() => RunEvaluation.Evaluate(_root)).Message);
        Assert.Contains("does not exist", Assert.Throws<HierDiffInputException>(() => RunEvaluation.Evaluate(Folder("nowhere"))).Message);

        string run = TestRuns.Write(Folder("missing"), TestRuns.Prompts, TestRuns.Matching(TestRuns.Prompts, 1), 0, "standard");
        File.Delete(Path.Combine(run, "images", "0003.png"));
        HierDiffInputException missing = Assert.Throws<HierDiffInputException>(() => RunEvaluation.Evaluate(run));
        Assert.Contains("images/0003.png", missing.Message);
        Assert.Contains("missing", missing.Message);
        Assert.False(File.Exists(Path.Combine(run, "scores.json")));

        File.WriteAllText(Path.Combine(run, "images", "0003.png"), "not a png");
        Assert.Contains("0003.png", Assert.Throws<HierDiffInputException>(() => RunEvaluation.Evaluate(run)).Message);

        string[] odd = ["a red circle", "a happy dog"];
        string unreadable = TestRuns.Write(Folder("dog"), odd, _ => new Scene(ShapeKind.Circle, Colour.Red, Colour.Blue, ShapeSize.Large, Position.Center, Pattern.Solid), 0, "standard");
        HierDiffInputException dog = Assert.Throws<HierDiffInputException>(() => RunEvaluation.Evaluate(unreadable));
        Assert.Contains("'a happy dog'", dog.Message);
        Assert.Contains("prompt 1", dog.Message);

        File.WriteAllText(Path.Combine(unreadable, "manifest.json"), "{ not json");
        Assert.Contains("manifest.json: not valid JSON", Assert.Throws<HierDiffInputException>(() => RunEvaluation.Evaluate(unreadable)).Message);
        File.WriteAllText(Path.Combine(unreadable, "manifest.json"), "{\"prompts\": [{\"index\": 0, \"text\": \"a red circle\", \"image\": \"../../x.png\"}]}");
        Assert.Contains("outside the run folder", Assert.Throws<HierDiffInputException>(() => RunEvaluation.Evaluate(unreadable)).Message);
    }
}
