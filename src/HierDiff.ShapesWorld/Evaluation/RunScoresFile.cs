using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using HierDiff.Core.Runs;
using HierDiff.ShapesWorld.World;

namespace HierDiff.ShapesWorld.Evaluation;

/// <summary>A run's scores as read back from its scores.json: each prompt's score in index order, their mean, the
/// diversity, the evaluator that gave them and its tie threshold (a file from before evaluators were named is the
/// shapes evaluator's).</summary>
public sealed record SavedScores(IReadOnlyList<double> Scores, double MeanScore, double? Diversity, string Evaluator, double TieThreshold);

/// <summary>
/// <c>scores.json</c> in a run folder: written by <c>hierdiff eval</c>, read back by <c>report</c> and <c>compare</c>.
/// Reading checks it scores exactly the manifest's prompts and images (a stale file from an earlier run in the same
/// folder is refused, not shown as this run's) and that every field has its type.
/// </summary>
public static class RunScoresFile
{
    public const string FileName = "scores.json";

    /// <summary>The saved scores of the run, or null where it has no scores.json.</summary>
    public static SavedScores? Read(RunManifest manifest)
    {
        string path = manifest.Folder.Show(FileName);
        if (manifest.Folder.ReadIfPresent(FileName, path, RunFolder.MaxJsonBytes) is not byte[] bytes)
        {
            return null;
        }

        JsonField root = JsonField.Parse(path, bytes);
        JsonField images = root.Property("images");
        int n = manifest.Prompts.Count;
        if (images.ArrayLength != n)
        {
            throw images.Error($"{images.ArrayLength} images, but {RunManifest.FileName} has {n} prompts; run hierdiff eval --run again");
        }

        var scores = new double?[n];
        foreach (JsonField image in images.Items())
        {
            JsonField index = image.Property("index");
            int i = index.Int(0, n - 1);
            if (scores[i] is not null)
            {
                throw index.Error($"prompt {i} is scored twice");
            }

            RunPrompt prompt = manifest.Prompts[i];
            if (image.Property("prompt").String() != prompt.Text || image.Property("image").String() != prompt.Image)
            {
                throw image.Error($"prompt {i} or its image is not the manifest's; run hierdiff eval --run again");
            }

            scores[i] = image.Property("score").Double();
        }

        double tie = root.OptionalProperty("tie_threshold")?.Double() ?? ShapesEvaluator.DefaultTieThreshold;
        if (tie < 0)
        {
            throw root.Property("tie_threshold").Error("the tie threshold cannot be negative");
        }

        return new SavedScores(
            scores.Select(s => s!.Value).ToArray(),
            root.Property("mean_score").Double(),
            root.OptionalProperty("diversity")?.Double(),
            root.OptionalProperty("evaluator")?.String() ?? ShapesEvaluator.EvaluatorName,
            tie);
    }

    public static void Write(RunFolder folder, RunScores scores) =>
        folder.Write(FileName, JsonSerializer.SerializeToUtf8Bytes(ScoresJson.From(scores), Json));

    /// <summary>How scores.json and compare.json are written: snake_case names in the records' order, indented,
    /// text as it is (no \u escapes for quotes or non-ASCII), a null written as null unless the record says otherwise.</summary>
    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>scores.json: the evaluator and its tie threshold, the manifest's mode, savings and calls (calls left
    /// out where it has none), the means, the diversity and every image.</summary>
    private sealed record ScoresJson(
        string Evaluator,
        double TieThreshold,
        string? Mode,
        double? Savings,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] long? DenoiserCalls,
        double MeanScore,
        AttributesJson AttributeMeans,
        double? Diversity,
        int DiversityImages,
        IReadOnlyList<ImageJson> Images)
    {
        public static ScoresJson From(RunScores s) => new(
            ShapesEvaluator.EvaluatorName,
            ShapesEvaluator.DefaultTieThreshold,
            s.Mode,
            s.Savings,
            s.DenoiserCalls,
            s.MeanScore,
            AttributesJson.From(s.AttributeMeans),
            s.Diversity,
            Math.Min(s.Images.Count, RunEvaluation.DiversityImages),
            s.Images.Select(ImageJson.From).ToArray());
    }

    /// <summary>One score per attribute (<see cref="ImageEvaluator.AttributeNames"/>, in that order), only those there are.</summary>
    private sealed record AttributesJson(
        [property: JsonPropertyName(ImageEvaluator.ShapeColourName), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? ShapeColour,
        [property: JsonPropertyName(ImageEvaluator.BackgroundName), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? Background,
        [property: JsonPropertyName(ImageEvaluator.KindName), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? Kind,
        [property: JsonPropertyName(ImageEvaluator.SizeName), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? Size,
        [property: JsonPropertyName(ImageEvaluator.PositionName), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? Position,
        [property: JsonPropertyName(ImageEvaluator.PatternName), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? Pattern)
    {
        public static AttributesJson From(IReadOnlyDictionary<string, double> a) => new(
            Get(a, ImageEvaluator.ShapeColourName),
            Get(a, ImageEvaluator.BackgroundName),
            Get(a, ImageEvaluator.KindName),
            Get(a, ImageEvaluator.SizeName),
            Get(a, ImageEvaluator.PositionName),
            Get(a, ImageEvaluator.PatternName));

        private static double? Get(IReadOnlyDictionary<string, double> a, string name) => a.TryGetValue(name, out double v) ? v : null;
    }

    /// <summary>One image: its prompt and file, its score, then its attribute scores as fields of their own (those
    /// its prompt names), whether a shape was found, and the scene read from its pixels.</summary>
    private sealed record ImageJson(
        int Index,
        string Prompt,
        string Image,
        double Score,
        [property: JsonPropertyName(ImageEvaluator.ShapeColourName), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? ShapeColour,
        [property: JsonPropertyName(ImageEvaluator.BackgroundName), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? Background,
        [property: JsonPropertyName(ImageEvaluator.KindName), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? Kind,
        [property: JsonPropertyName(ImageEvaluator.SizeName), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? Size,
        [property: JsonPropertyName(ImageEvaluator.PositionName), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? Position,
        [property: JsonPropertyName(ImageEvaluator.PatternName), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? Pattern,
        bool ShapeFound,
        SceneJson Read)
    {
        public static ImageJson From(ImageEvaluation i)
        {
            AttributesJson a = AttributesJson.From(i.Attributes);
            return new(i.Index, i.Prompt, i.Image, i.Score, a.ShapeColour, a.Background, a.Kind, a.Size, a.Position, a.Pattern, i.ShapeFound, SceneJson.From(i.Read));
        }
    }

    /// <summary>The scene read from an image, each attribute by its name in prompts.</summary>
    private sealed record SceneJson(
        [property: JsonPropertyName(ImageEvaluator.ShapeColourName)] string ShapeColour,
        [property: JsonPropertyName(ImageEvaluator.BackgroundName)] string Background,
        [property: JsonPropertyName(ImageEvaluator.KindName)] string Kind,
        [property: JsonPropertyName(ImageEvaluator.SizeName)] string Size,
        [property: JsonPropertyName(ImageEvaluator.PositionName)] string Position,
        [property: JsonPropertyName(ImageEvaluator.PatternName)] string Pattern)
    {
        public static SceneJson From(Scene r) => new(
            Palette.Name(r.ShapeColour), Palette.Name(r.Background), PromptWriter.Name(r.Kind), PromptWriter.Name(r.Size), PromptWriter.Name(r.Position), PromptWriter.Name(r.Pattern));
    }
}
