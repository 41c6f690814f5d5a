using System.Text.Encodings.Web;
using System.Text.Json;
using HierDiff.Core;
using HierDiff.ShapesWorld.World;

namespace HierDiff.ShapesWorld.Evaluation;

/// <summary>One image of a run, scored against its prompt (attribute keys as <see cref="ImageEvaluator.AttributeNames"/>,
/// only those the prompt names).</summary>
public sealed record ImageEvaluation(
    int Index, string Prompt, string Image, double Score, IReadOnlyDictionary<string, double> Attributes, Scene Read, bool ShapeFound);

/// <summary>
/// A run's scores: each image's, their mean, the mean of each attribute over the prompts that name it, and the
/// diversity (mean pairwise cosine similarity of <see cref="ImageEvaluator.Features"/> over up to the first 100
/// images; lower is more diverse; null for fewer than 2 images). Mode, savings and denoiser calls are copied from the
/// manifest where it has them.
/// </summary>
public sealed record RunScores(
    string Run,
    IReadOnlyList<ImageEvaluation> Images,
    double MeanScore,
    IReadOnlyDictionary<string, double> AttributeMeans,
    double? Diversity,
    string? Mode,
    double? Savings,
    long? DenoiserCalls);

/// <summary>
/// Run A against run B, image by image (paired by prompt index): A wins where its score is higher by
/// <see cref="RunEvaluation.TieThreshold"/> or more; win percent = (wins + ties / 2) / n x 100.
/// </summary>
public sealed record RunComparison(
    string RunA,
    string RunB,
    int Prompts,
    int Wins,
    int Ties,
    int Losses,
    double WinPercent,
    double MeanScoreA,
    double MeanScoreB,
    double MeanScoreDifference,
    double? SavingsA,
    double? SavingsB,
    string? ModeA,
    string? ModeB,
    string OutputPath);

/// <summary>
/// Scores a run folder written by <c>hierdiff generate</c> (<c>manifest.json</c> and its images) with
/// <see cref="ImageEvaluator"/>, writing <c>scores.json</c>; and compares two runs of the same prompts, writing
/// <c>compare.json</c>. Problems with the folders (no manifest, a missing or unreadable image, a prompt this world
/// cannot read, runs of different prompts) are <see cref="HierDiffInputException"/>s that say which file.
/// </summary>
public static class RunEvaluation
{
    public const string ManifestFile = "manifest.json";
    public const string ScoresFile = "scores.json";
    public const string CompareFile = "compare.json";

    /// <summary>Scores closer than this are a tie.</summary>
    public const double TieThreshold = 0.01;

    /// <summary>Diversity is measured over at most this many images (the first ones).</summary>
    public const int DiversityImages = 100;

    private static readonly JsonWriterOptions WriterOptions = new() { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Scores the run in <paramref name="runDirectory"/> and writes its <c>scores.json</c>.</summary>
    public static RunScores Evaluate(string runDirectory)
    {
        RunScores scores = Score(runDirectory);
        WriteScores(scores, Path.Combine(runDirectory, ScoresFile));
        return scores;
    }

    /// <summary>Scores the run in <paramref name="runDirectory"/> without writing anything.</summary>
    public static RunScores Score(string runDirectory)
    {
        RunManifest manifest = RunManifest.Read(runDirectory);
        var images = new List<ImageEvaluation>(manifest.Prompts.Count);
        var features = new List<double[]>();
        foreach (ManifestEntry entry in manifest.Prompts)
        {
            SceneDescription description;
            try
            {
                description = PromptParser.Parse(entry.Text);
            }
            catch (HierDiffInputException e)
            {
                throw new HierDiffInputException($"{manifest.Path}: prompt {entry.Index}: {e.Message}", e);
            }

            byte[] rgb = ReadImage(runDirectory, entry, manifest.Path);
            ImageReading reading = ImageEvaluator.Read(rgb);
            ImageScore score = ImageEvaluator.Score(reading, description);
            images.Add(new ImageEvaluation(entry.Index, entry.Text, entry.Image, score.Score, score.Attributes, score.Read, reading.ShapeFound));
            if (features.Count < DiversityImages)
            {
                features.Add(ImageEvaluator.Features(rgb));
            }
        }

        var attributeMeans = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (string name in ImageEvaluator.AttributeNames)
        {
            double[] values = images.Where(i => i.Attributes.ContainsKey(name)).Select(i => i.Attributes[name]).ToArray();
            if (values.Length > 0)
            {
                attributeMeans[name] = values.Average();
            }
        }

        return new RunScores(
            runDirectory,
            images,
            images.Average(i => i.Score),
            attributeMeans,
            Diversity(features),
            manifest.Mode,
            manifest.Savings,
            manifest.DenoiserCalls);
    }

    /// <summary>Mean pairwise cosine similarity; null for fewer than two vectors.</summary>
    public static double? Diversity(IReadOnlyList<double[]> features)
    {
        if (features.Count < 2)
        {
            return null;
        }

        double sum = 0;
        int pairs = 0;
        for (int i = 0; i < features.Count; i++)
        {
            for (int j = i + 1; j < features.Count; j++)
            {
                sum += ImageEvaluator.Cosine(features[i], features[j]);
                pairs++;
            }
        }

        return sum / pairs;
    }

    /// <summary>
    /// Compares run A with run B (the same prompts, paired by index), using each run's <c>scores.json</c> where it is
    /// there and scores these prompts, else scoring the run (and writing its <c>scores.json</c>). Writes
    /// <c>compare.json</c> to <paramref name="outPath"/>, or into run A's folder.
    /// </summary>
    public static RunComparison Compare(string runA, string runB, string? outPath = null)
    {
        RunManifest a = RunManifest.Read(runA);
        RunManifest b = RunManifest.Read(runB);
        if (a.Prompts.Count != b.Prompts.Count)
        {
            throw new HierDiffInputException(
                $"runs {runA} and {runB} are of different prompts: {a.Prompts.Count} prompts against {b.Prompts.Count}");
        }

        for (int i = 0; i < a.Prompts.Count; i++)
        {
            if (a.Prompts[i].Index != b.Prompts[i].Index || a.Prompts[i].Text != b.Prompts[i].Text)
            {
                throw new HierDiffInputException(
                    $"runs {runA} and {runB} are of different prompts: prompt {a.Prompts[i].Index} is '{a.Prompts[i].Text}' in the first " +
                    $"and prompt {b.Prompts[i].Index} '{b.Prompts[i].Text}' in the second");
            }
        }

        double[] scoresA = ScoresOf(runA, a);
        double[] scoresB = ScoresOf(runB, b);
        int wins = 0, ties = 0, losses = 0;
        for (int i = 0; i < scoresA.Length; i++)
        {
            double d = scoresA[i] - scoresB[i];
            if (Math.Abs(d) < TieThreshold)
            {
                ties++;
            }
            else if (d > 0)
            {
                wins++;
            }
            else
            {
                losses++;
            }
        }

        int n = scoresA.Length;
        string path = outPath ?? Path.Combine(runA, CompareFile);
        var comparison = new RunComparison(
            runA,
            runB,
            n,
            wins,
            ties,
            losses,
            100.0 * (wins + (ties / 2.0)) / n,
            scoresA.Average(),
            scoresB.Average(),
            scoresA.Zip(scoresB, (x, y) => x - y).Average(),
            a.Savings,
            b.Savings,
            a.Mode,
            b.Mode,
            path);
        WriteComparison(comparison, path);
        return comparison;
    }

    /// <summary>Each prompt's score: from scores.json where it matches the manifest, else scored now (and written).</summary>
    private static double[] ScoresOf(string run, RunManifest manifest)
    {
        string path = Path.Combine(run, ScoresFile);
        if (File.Exists(path) && ReadScores(path, manifest) is double[] saved)
        {
            return saved;
        }

        return Evaluate(run).Images.Select(i => i.Score).ToArray();
    }

    /// <summary>The scores in a scores.json, in prompt order; null where it does not belong to these prompts or does not read.</summary>
    private static double[]? ReadScores(string path, RunManifest manifest)
    {
        try
        {
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(path));
            if (!doc.RootElement.TryGetProperty("images", out JsonElement images) || images.ValueKind != JsonValueKind.Array
                || images.GetArrayLength() != manifest.Prompts.Count)
            {
                return null;
            }

            var scores = new double[manifest.Prompts.Count];
            int i = 0;
            foreach (JsonElement image in images.EnumerateArray())
            {
                if (image.GetProperty("prompt").GetString() != manifest.Prompts[i].Text
                    || image.GetProperty("image").GetString() != manifest.Prompts[i].Image)
                {
                    return null;
                }

                scores[i++] = image.GetProperty("score").GetDouble();
            }

            return scores;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            return null;
        }
    }

    private static byte[] ReadImage(string run, ManifestEntry entry, string manifestPath)
    {
        string root = Path.GetFullPath(run);
        string path = Path.GetFullPath(Path.Combine(root, entry.Image));
        if (!path.StartsWith(root.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            throw new HierDiffInputException($"{manifestPath}: image '{entry.Image}' of prompt {entry.Index} is outside the run folder");
        }

        if (!File.Exists(path))
        {
            throw new HierDiffInputException($"{manifestPath}: image {entry.Image} of prompt {entry.Index} is missing ({path})");
        }

        try
        {
            return PngDecoder.Decode(File.ReadAllBytes(path)).Resized(SceneRenderer.Size);
        }
        catch (InvalidDataException e)
        {
            throw new HierDiffInputException($"{path}: {e.Message}", e);
        }
    }

    private static void WriteScores(RunScores scores, string path)
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
            w.WriteNumber("diversity_images", Math.Min(scores.Images.Count, DiversityImages));
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

        File.WriteAllBytes(path, stream.ToArray());
    }

    private static void WriteComparison(RunComparison c, string path)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, WriterOptions))
        {
            w.WriteStartObject();
            w.WriteString("run_a", c.RunA);
            w.WriteString("run_b", c.RunB);
            w.WriteNumber("prompts", c.Prompts);
            w.WriteNumber("wins", c.Wins);
            w.WriteNumber("ties", c.Ties);
            w.WriteNumber("losses", c.Losses);
            w.WriteNumber("win_percent", c.WinPercent);
            w.WriteNumber("tie_threshold", TieThreshold);
            w.WriteNumber("mean_score_a", c.MeanScoreA);
            w.WriteNumber("mean_score_b", c.MeanScoreB);
            w.WriteNumber("mean_score_difference", c.MeanScoreDifference);
            WriteOptional(w, "savings_a", c.SavingsA);
            WriteOptional(w, "savings_b", c.SavingsB);
            WriteOptional(w, "mode_a", c.ModeA);
            WriteOptional(w, "mode_b", c.ModeB);
            w.WriteEndObject();
        }

        string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (folder is not null)
        {
            Directory.CreateDirectory(folder);
        }

        File.WriteAllBytes(path, stream.ToArray());
    }

    private static void WriteOptional(Utf8JsonWriter w, string name, double? value)
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

    private static void WriteOptional(Utf8JsonWriter w, string name, string? value)
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

    private sealed record ManifestEntry(int Index, string Text, string Image);

    /// <summary>What evaluation needs of a run's manifest.json: its prompts in index order, mode, savings, calls.</summary>
    private sealed record RunManifest(string Path, IReadOnlyList<ManifestEntry> Prompts, string? Mode, double? Savings, long? DenoiserCalls)
    {
        public static RunManifest Read(string run)
        {
            if (!Directory.Exists(run))
            {
                throw new HierDiffInputException($"run folder {run} does not exist");
            }

            string path = System.IO.Path.Combine(run, ManifestFile);
            if (!File.Exists(path))
            {
                throw new HierDiffInputException($"{run} has no {ManifestFile}: not a run folder written by hierdiff generate");
            }

            try
            {
                using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(path));
                JsonElement root = doc.RootElement;
                if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("prompts", out JsonElement prompts) || prompts.ValueKind != JsonValueKind.Array)
                {
                    throw new HierDiffInputException($"{path} has no 'prompts' list");
                }

                var entries = new List<ManifestEntry>();
                int position = 0;
                foreach (JsonElement p in prompts.EnumerateArray())
                {
                    int index = p.TryGetProperty("index", out JsonElement i) ? i.GetInt32() : position;
                    string text = p.TryGetProperty("text", out JsonElement t) && t.ValueKind == JsonValueKind.String
                        ? t.GetString()!
                        : throw new HierDiffInputException($"{path}: prompt {index} has no text");
                    string image = p.TryGetProperty("image", out JsonElement im) && im.ValueKind == JsonValueKind.String
                        ? im.GetString()!
                        : throw new HierDiffInputException($"{path}: prompt {index} has no image");
                    entries.Add(new ManifestEntry(index, text, image));
                    position++;
                }

                if (entries.Count == 0)
                {
                    throw new HierDiffInputException($"{path} lists no prompts");
                }

                entries.Sort((x, y) => x.Index.CompareTo(y.Index));
                for (int k = 1; k < entries.Count; k++)
                {
                    if (entries[k].Index == entries[k - 1].Index)
                    {
                        throw new HierDiffInputException($"{path} lists prompt {entries[k].Index} twice");
                    }
                }

                string? mode = root.TryGetProperty("mode", out JsonElement m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null;
                double? savings = root.TryGetProperty("savings", out JsonElement s) && s.ValueKind == JsonValueKind.Number ? s.GetDouble() : null;
                long? calls = root.TryGetProperty("denoiser_calls", out JsonElement c) && c.ValueKind == JsonValueKind.Number ? c.GetInt64() : null;
                return new RunManifest(path, entries, mode, savings, calls);
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
            {
                throw new HierDiffInputException($"{path} is not a readable manifest: {e.Message}", e);
            }
        }
    }
}
