using System.Text.Encodings.Web;
using System.Text.Json;
using HierDiff.Core.Runs;
using HierDiff.ShapesWorld.World;

namespace HierDiff.ShapesWorld.Evaluation;

/// <summary>A run's scores as read back from its scores.json: each prompt's score in index order, their mean and the diversity.</summary>
public sealed record SavedScores(IReadOnlyList<double> Scores, double MeanScore, double? Diversity);

/// <summary>
/// <c>scores.json</c> in a run folder: written by <c>hierdiff eval</c>, read back by <c>report</c> and <c>compare</c>.
/// Reading checks it scores exactly the manifest's prompts and images (a stale file from an earlier run in the same
/// folder is refused, not shown as this run's) and that every field has its type.
/// </summary>
public static class RunScoresFile
{
    public const string FileName = "scores.json";

    private static readonly JsonWriterOptions WriterOptions = new() { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

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

        return new SavedScores(scores.Select(s => s!.Value).ToArray(), root.Property("mean_score").Double(), root.OptionalProperty("diversity")?.Double());
    }

    public static void Write(RunFolder folder, RunScores scores)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, WriterOptions))
        {
            w.WriteStartObject();
            WriteOptional(w, "mode", scores.Mode);
            WriteOptional(w, "savings", scores.Savings);
            if (scores.DenoiserCalls is long calls)
            {
                w.WriteNumber("denoiser_calls", calls);
            }

            w.WriteNumber("mean_score", scores.MeanScore);
            w.WriteStartObject("attribute_means");
            foreach (string name in ImageEvaluator.AttributeNames)
            {
                if (scores.AttributeMeans.TryGetValue(name, out double mean))
                {
                    w.WriteNumber(name, mean);
                }
            }

            w.WriteEndObject();
            WriteOptional(w, "diversity", scores.Diversity);
            w.WriteNumber("diversity_images", Math.Min(scores.Images.Count, RunEvaluation.DiversityImages));
            w.WriteStartArray("images");
            foreach (ImageEvaluation image in scores.Images)
            {
                w.WriteStartObject();
                w.WriteNumber("index", image.Index);
                w.WriteString("prompt", image.Prompt);
                w.WriteString("image", image.Image);
                w.WriteNumber("score", image.Score);
                foreach (string name in ImageEvaluator.AttributeNames)
                {
                    if (image.Attributes.TryGetValue(name, out double value))
                    {
                        w.WriteNumber(name, value);
                    }
                }

                w.WriteBoolean("shape_found", image.ShapeFound);
                w.WriteStartObject("read");
                w.WriteString(ImageEvaluator.ShapeColourName, Palette.Name(image.Read.ShapeColour));
                w.WriteString(ImageEvaluator.BackgroundName, Palette.Name(image.Read.Background));
                w.WriteString(ImageEvaluator.KindName, PromptWriter.Name(image.Read.Kind));
                w.WriteString(ImageEvaluator.SizeName, PromptWriter.Name(image.Read.Size));
                w.WriteString(ImageEvaluator.PositionName, PromptWriter.Name(image.Read.Position));
                w.WriteString(ImageEvaluator.PatternName, PromptWriter.Name(image.Read.Pattern));
                w.WriteEndObject();
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        folder.Write(FileName, stream.ToArray());
    }

    internal static void WriteOptional(Utf8JsonWriter w, string name, double? value)
    {
        if (value is double v)
        {
            w.WriteNumber(name, v);
        }
        else
        {
            w.WriteNull(name);
        }
    }

    internal static void WriteOptional(Utf8JsonWriter w, string name, string? value)
    {
        if (value is null)
        {
            w.WriteNull(name);
        }
        else
        {
            w.WriteString(name, value);
        }
    }
}
