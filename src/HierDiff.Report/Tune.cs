using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using HierDiff.Core;
using HierDiff.Core.Prompts;
using HierDiff.Core.Runs;
using HierDiff.Models;
using HierDiff.Models.Pipelines;
using HierDiff.Pipeline.RunFolders;
using HierDiff.ShapesWorld.Evaluation;

namespace HierDiff.Report;

/// <summary>What a rung measured against standard generation on the sample: win % counts ties half, with a 95 %
/// interval from the per-prompt outcomes (1 win, 0.5 tie, 0 loss).</summary>
public sealed record TuneResult(
    TuneSetting Setting,
    string Folder,
    double Tau,
    double Savings,
    long DenoiserCalls,
    double MeanScore,
    int Wins,
    int Ties,
    int Losses,
    double WinPercent,
    double[] WinInterval);

/// <summary>A rung the budget did not reach.</summary>
public sealed record TuneSkip(TuneSetting Setting, long Calls, string Reason);

/// <summary><c>tune.json</c>: the ladder's results, what was skipped, and the recommended setting (the most savings
/// whose win % is at least <see cref="MinWin"/> x 100), or null with the reason.</summary>
public sealed record TuneFile(
    string Model,
    string Evaluator,
    string Prompts,
    int PromptCount,
    int Sample,
    ulong Seed,
    int Steps,
    double MinWin,
    long MaxCalls,
    long CallsSpent,
    double StandardMeanScore,
    IReadOnlyList<TuneResult> Settings,
    IReadOnlyList<TuneSkip> Skipped,
    TuneSetting? Recommended,
    string? NoRecommendation)
{
    public const string FileName = "tune.json";

    internal static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>The recommended setting of a tune.json file, checked: the file names the problem where it is not one.</summary>
    public static TuneSetting ReadRecommendation(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new HierDiffInputException($"{path}: cannot read the tune file ({e.Message})");
        }

        return TuneSetting.ReadRecommendation(path, bytes);
    }
}

/// <summary>
/// <c>hierdiff tune</c>: on a seeded sample of a prompt set, standard generation and hierarchical generation on a
/// ladder of settings (savings targets x split schedules), each scored by an evaluator (the shapes world's, or a CLIP
/// model for any other model) and compared with standard image by image; the recommendation is the most savings that
/// still wins at least the minimum.
/// </summary>
public static class Tune
{
    public const int DefaultSample = 200;
    public const double DefaultMinWin = 0.5;

    /// <summary>The ladder, in the order it is spent: the paper's schedule first, then private steps, then shapes.</summary>
    public static IReadOnlyList<TuneSetting> Ladder { get; } =
    [
        .. new[] { (1.0, 0), (1.0, 4), (1.0, 8), (2.0, 0), (0.5, 0), (2.0, 4) }
            .SelectMany(s => new[] { 0.3, 0.4, 0.5, 0.6, 0.7 }.Select(t => new TuneSetting(t, s.Item1, s.Item2))),
    ];

    /// <summary>The sample: <paramref name="size"/> prompts drawn without replacement by a seeded shuffle, kept in
    /// their file order; all of them where there are no more.</summary>
    public static IReadOnlyList<string> Sample(IReadOnlyList<string> prompts, int size, ulong seed)
    {
        if (prompts.Count <= size)
        {
            return prompts;
        }

        var random = new Random(unchecked((int)seed ^ (int)(seed >> 32)));
        return [.. Enumerable.Range(0, prompts.Count).OrderBy(_ => random.Next()).Take(size).Order().Select(i => prompts[i])];
    }

    public static TuneFile Run(
        string promptPath, string outPath, GenerationOptions options, int sampleSize, double minWin, long? maxCalls, ITextToImageModel model,
        IRunEvaluator? evaluator = null, Action<string>? log = null)
    {
        evaluator ??= ShapesEvaluator.Instance;
        PromptSet set = PromptFileReader.Read(promptPath);
        IReadOnlyList<string> sample = Sample(set.Texts, sampleSize, options.Seed);
        Directory.CreateDirectory(outPath);
        string samplePath = Path.Combine(outPath, "sample.txt");
        File.WriteAllText(samplePath, string.Join('\n', sample) + "\n");
        long standardCalls = (long)options.Steps * sample.Count;
        long budget = maxCalls ?? (10 * standardCalls);

        string standardDir = Path.Combine(outPath, "standard");
        GenerationManifest standard = RunExport.Run(samplePath, standardDir, options with { Mode = GenerationMode.Standard }, model, overwrite: true, null, keepNodes: false);
        long spent = standard.DenoiserCalls;
        double standardScore = Score(evaluator, standardDir, "standard").MeanScore;
        log?.Invoke($"standard: {standard.DenoiserCalls:N0} calls, mean score {standardScore:0.000}");

        var results = new List<TuneResult>();
        var skipped = new List<TuneSkip>();
        foreach (TuneSetting setting in Ladder)
        {
            long calls = (long)Math.Ceiling((1 - setting.TargetSavings) * standard.StandardDenoiserCalls);
            if (spent + calls > budget)
            {
                skipped.Add(new TuneSkip(setting, calls, $"over the budget: {spent:N0} of {budget:N0} calls spent"));
                continue;
            }

            GenerationOptions run = options with { TargetSavings = setting.TargetSavings, SplitShape = setting.SplitShape, PrivateSteps = setting.PrivateSteps };
            string dir = Path.Combine(outPath, "runs", setting.Folder);
            GenerationManifest m;
            try
            {
                run.Validate(sample.Count);
                m = RunExport.Run(samplePath, dir, run, model, overwrite: true, null, keepNodes: false);
            }
            catch (HierDiffInputException e)
            {
                // A target this schedule cannot reach on this sample (too many private steps, too few prompts).
                skipped.Add(new TuneSkip(setting, calls, e.Message));
                continue;
            }

            spent += m.DenoiserCalls;
            Score(evaluator, dir, setting.Folder);
            RunComparison c = RunEvaluation.Compare(dir, standardDir, evaluator: evaluator);
            results.Add(new TuneResult(setting, Path.Combine("runs", setting.Folder), m.Tau, m.Savings, m.DenoiserCalls, c.MeanScoreA,
                c.Wins, c.Ties, c.Losses, c.WinPercent, WinInterval(c.Wins, c.Ties, c.Losses)));
            log?.Invoke($"{setting.Folder}: {m.Savings:0.0%} saved, win {c.WinPercent:0.0}%");
        }

        TuneResult? best = results.Where(r => r.WinPercent >= 100 * minWin).OrderByDescending(r => r.Savings).ThenByDescending(r => r.WinPercent).FirstOrDefault();
        string? why = best is not null ? null : results.Count == 0
            ? "no setting ran within the budget"
            : $"no setting won at least {100 * minWin:0.#}% against standard; the best won {results.Max(r => r.WinPercent):0.#}%";
        var file = new TuneFile(model.Name, evaluator.Name, promptPath, set.Count, sample.Count, options.Seed, options.Steps, minWin, budget, spent, standardScore,
            results, skipped, best?.Setting, why);
        File.WriteAllBytes(Path.Combine(outPath, TuneFile.FileName), JsonSerializer.SerializeToUtf8Bytes(file, TuneFile.Json));
        return file;
    }

    /// <summary>The 95 % interval of the mean outcome (1 win, 0.5 tie, 0 loss), in percent, clipped to [0, 100].</summary>
    public static double[] WinInterval(int wins, int ties, int losses)
    {
        int n = wins + ties + losses;
        double p = (wins + (ties / 2.0)) / n;
        double variance = n < 2 ? 0 : ((wins * (1 - p) * (1 - p)) + (ties * (0.5 - p) * (0.5 - p)) + (losses * p * p)) / (n - 1);
        double half = 1.96 * Math.Sqrt(variance / n);
        return [100 * Math.Max(0, p - half), 100 * Math.Min(1, p + half)];
    }

    private static SavedScores Score(IRunEvaluator evaluator, string dir, string what)
    {
        try
        {
            return evaluator.Evaluate(RunManifest.Read(RunFolder.Open(dir)));
        }
        catch (HierDiffInputException e)
        {
            string hint = evaluator is ShapesEvaluator ? "; for prompts outside the shapes world give tune --evaluator with a CLIP export" : "";
            throw new HierDiffInputException($"tune scores with the {evaluator.Name} evaluator, which cannot score the {what} run: {e.Message}{hint}");
        }
    }
}
