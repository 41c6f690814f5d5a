using System.Text.Json;
using System.Text.Json.Nodes;
using HierDiff.Core;
using HierDiff.Core.Runs;
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
    long? DenoiserCalls)
{
    /// <summary>What scores.json keeps of these scores, as any evaluator's.</summary>
    public SavedScores Saved() =>
        new(Images.Select(i => i.Score).ToArray(), MeanScore, Diversity, ShapesEvaluator.EvaluatorName, ShapesEvaluator.DefaultTieThreshold);
}

/// <summary>
/// Run A against run B, image by image (paired by prompt index) by one evaluator's scores: A wins where its score is
/// higher by the evaluator's tie threshold or more; win percent = (wins + ties / 2) / n x 100. compare.json holds the
/// fields in this order, less the output path.
/// </summary>
public sealed record RunComparison(
    string RunA,
    string RunB,
    string Evaluator,
    int Prompts,
    int Wins,
    int Ties,
    int Losses,
    double WinPercent,
    double TieThreshold,
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
/// <c>compare.json</c>. The folders are read through <see cref="RunFolder"/> and <see cref="RunManifest"/>, so
/// only files inside them; problems (no manifest, a malformed one, a missing or unreadable image, a prompt this
/// world cannot read, runs of different prompts) are <see cref="HierDiffInputException"/>s that say which file.
/// </summary>
public static class RunEvaluation
{
    public const string ManifestFile = RunManifest.FileName;
    public const string ScoresFile = RunScoresFile.FileName;
    public const string CompareFile = "compare.json";

    /// <summary>Diversity is measured over at most this many images (the first ones).</summary>
    public const int DiversityImages = 100;

    /// <summary>Scores the run in <paramref name="runDirectory"/> and writes its <c>scores.json</c>.</summary>
    public static RunScores Evaluate(string runDirectory) => Evaluate(RunManifest.Read(RunFolder.Open(runDirectory)));

    /// <summary>Scores the run in <paramref name="runDirectory"/> without writing anything.</summary>
    public static RunScores Score(string runDirectory) => Score(RunManifest.Read(RunFolder.Open(runDirectory)));

    /// <summary>Scores the run of <paramref name="manifest"/> and writes its <c>scores.json</c>.</summary>
    public static RunScores Evaluate(RunManifest manifest)
    {
        RunScores scores = Score(manifest);
        RunScoresFile.Write(manifest.Folder, scores);
        return scores;
    }

    private static RunScores Score(RunManifest manifest)
    {
        var images = new List<ImageEvaluation>(manifest.Prompts.Count);
        var features = new List<double[]>();
        foreach (RunPrompt entry in manifest.Prompts)
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

            byte[] rgb = ReadImage(manifest, entry);
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
            manifest.Folder.Path,
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
    /// Compares run A with run B (the same prompts, paired by index) by <paramref name="evaluator"/>'s scores, or,
    /// where none is given, by the evaluator whose scores.json run A (else run B) has, else the shapes evaluator. A
    /// run's scores.json is used where it reads, scores these prompts and is that evaluator's; otherwise the run is
    /// scored now (and its scores.json written), which needs the evaluator itself: a CLIP evaluator is only known by
    /// name from a file, so then the run is refused, saying how to score it. Writes <c>compare.json</c> to
    /// <paramref name="outPath"/>, or into run A's folder.
    /// </summary>
    public static RunComparison Compare(string runA, string runB, string? outPath = null, IRunEvaluator? evaluator = null)
    {
        RunManifest a = RunManifest.Read(RunFolder.Open(runA));
        RunManifest b = RunManifest.Read(RunFolder.Open(runB));
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

        SavedScores? savedA = ReadSaved(a), savedB = ReadSaved(b);
        string name = evaluator?.Name ?? savedA?.Evaluator ?? savedB?.Evaluator ?? ShapesEvaluator.EvaluatorName;
        IRunEvaluator? scorer = evaluator ?? (name == ShapesEvaluator.EvaluatorName ? ShapesEvaluator.Instance : null);
        SavedScores scoresA = ScoresBy(name, scorer, a, savedA, runA);
        SavedScores scoresB = ScoresBy(name, scorer, b, savedB, runB);
        double margin = scorer?.TieThreshold ?? scoresA.TieThreshold;
        int wins = 0, ties = 0, losses = 0;
        for (int i = 0; i < scoresA.Scores.Count; i++)
        {
            double d = scoresA.Scores[i] - scoresB.Scores[i];
            if (Math.Abs(d) < margin)
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

        int n = scoresA.Scores.Count;
        string path = outPath ?? a.Folder.Show(CompareFile);
        var comparison = new RunComparison(
            runA,
            runB,
            name,
            n,
            wins,
            ties,
            losses,
            100.0 * (wins + (ties / 2.0)) / n,
            margin,
            scoresA.Scores.Average(),
            scoresB.Scores.Average(),
            scoresA.Scores.Zip(scoresB.Scores, (x, y) => x - y).Average(),
            a.Savings,
            b.Savings,
            a.Mode,
            b.Mode,
            path);
        byte[] json = ComparisonJson(comparison);
        if (outPath is null)
        {
            a.Folder.Write(CompareFile, json);
        }
        else
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
            File.WriteAllBytes(outPath, json);
        }

        return comparison;
    }

    /// <summary>The run's scores.json where it reads and scores this manifest; a stale or broken one is what eval
    /// replaces anyway.</summary>
    private static SavedScores? ReadSaved(RunManifest manifest)
    {
        try
        {
            return RunScoresFile.Read(manifest);
        }
        catch (HierDiffInputException)
        {
            return null;
        }
    }

    private static SavedScores ScoresBy(string name, IRunEvaluator? scorer, RunManifest manifest, SavedScores? saved, string run)
    {
        if (saved is not null && saved.Evaluator == name)
        {
            return saved;
        }

        return scorer?.Evaluate(manifest) ?? throw new HierDiffInputException(
            $"{run} has no scores by {name} to compare; score it first with hierdiff eval --run {run} --evaluator DIR, " +
            "or give compare --evaluator DIR");
    }

    private static byte[] ReadImage(RunManifest manifest, RunPrompt prompt)
    {
        byte[] png = manifest.ReadImage(prompt);
        try
        {
            return PngDecoder.Decode(png).Resized(SceneRenderer.Size);
        }
        catch (InvalidDataException e)
        {
            throw new HierDiffInputException($"{manifest.Folder.Show(prompt.Image)}: {e.Message}", e);
        }
    }

    /// <summary>compare.json: the comparison's fields in their order, without the output path (where the file itself is).</summary>
    private static byte[] ComparisonJson(RunComparison comparison)
    {
        JsonNamingPolicy names = RunScoresFile.Json.PropertyNamingPolicy!;
        JsonObject json = JsonSerializer.SerializeToNode(comparison, RunScoresFile.Json)!.AsObject();
        json.Remove(names.ConvertName(nameof(RunComparison.OutputPath)));
        return JsonSerializer.SerializeToUtf8Bytes(json, RunScoresFile.Json);
    }
}
