using System.Diagnostics;
using System.Globalization;
using System.Text;
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

/// <summary>One run of the bench: what it cost, how long it took and where, and how good it was. The ratios are to
/// standard generation's in the same bench: denoiser calls, and wall seconds (the fastest of the rounds).
/// <paramref name="MeanBatchFill"/>: items per model call over max_batch.</summary>
public sealed record BenchRow(
    string Run,
    string Folder,
    int Steps,
    long DenoiserCalls,
    double Savings,
    double CallsRatio,
    double WallSeconds,
    double WallRatio,
    double? MeanBatchFill,
    double ImagesPerSecond,
    double EncodeSeconds,
    double ClusterSeconds,
    double DenoiseSeconds,
    double DecodeSeconds,
    double OrchestrationSeconds,
    double? MeanScore,
    double? WinPercent,
    string? WinsTiesLosses,
    double? Diversity);

/// <summary>
/// The paper's comparison on one machine, in one go (<c>hierdiff bench</c>). Standard generation; hierarchical at a
/// few savings targets; and, for each, standard generation with fewer steps at the same average denoiser calls per
/// image (the fixed-budget comparison). Every run is a <see cref="RunExport"/> run in its own folder, scored by the
/// shapes world's evaluator where its prompts are the world's, and compared with standard image by image.
/// </summary>
public static class Bench
{
    public const string MarkdownFile = "bench.md";
    public const string JsonFile = "bench.json";

    public const int MaxRounds = 10;

    /// <summary>The side-by-side table of a bench of several models.</summary>
    public const string ModelComparisonFile = "models.md";

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>Makes every run into <paramref name="outPath"/>, one after another, telling <paramref name="log"/> a
    /// line as each ends. With several <paramref name="rounds"/> each run is made that many times in a row and its
    /// fastest is kept: a shared machine's noise only ever adds time. The images are the same every round.</summary>
    public static IReadOnlyList<BenchRow> Run(
        string promptPath, string outPath, GenerationOptions options, IReadOnlyList<double> targets, ITextToImageModel model, Action<string>? log = null,
        int rounds = 1)
    {
        CheckRounds(rounds);

        Directory.CreateDirectory(outPath);

        // Warm-up (sessions, JIT) on a few prompts, so the first measured run does not pay for it.
        string warm = Path.Combine(outPath, ".warm-up");
        string warmPrompts = Path.Combine(outPath, ".warm-up.txt");
        File.WriteAllLines(warmPrompts, PromptFileReader.Read(promptPath).Texts.Take(4));
        RunExport.Run(warmPrompts, warm, Standard(options, 2), model, overwrite: true, null, keepNodes: false);
        Directory.Delete(warm, recursive: true);
        File.Delete(warmPrompts);

        // Standard first; then each target's hierarchical run, followed by standard at its calls per image.
        var runs = new List<TimedRun>();
        for (int i = 0; i <= 2 * targets.Count; i++)
        {
            (string name, string folder, GenerationOptions runOptions) = i == 0
                ? ($"standard, {options.Steps} steps", "standard", Standard(options, options.Steps))
                : i % 2 == 1
                    ? ($"hierarchical, {targets[i / 2]:0.##} target", $"hierarchical-{targets[i / 2]:0.##}", options with { TargetSavings = targets[i / 2] })
                    : FewerSteps(runs[0].Manifest, runs[^1].Manifest, options);
            runs.Add(new TimedRun(name, folder, runOptions).Make(promptPath, outPath, model));
            log?.Invoke($"{name}: {runs[^1].Wall:0.0} s, {runs[^1].Manifest.DenoiserCalls:N0} calls");
        }

        // Further rounds go through every run again in the same order, so that a slow spell of the machine falls
        // on all of them rather than on one.
        for (int round = 1; round < rounds; round++)
        {
            foreach (TimedRun run in runs)
            {
                run.Make(promptPath, outPath, model);
            }

            log?.Invoke($"round {round + 1} of {rounds}: {string.Join(", ", runs.Select(r => $"{r.Wall:0.0} s"))} (fastest so far)");
        }

        var rows = new List<BenchRow>();
        string standardDir = Path.Combine(outPath, "standard");
        (long standardCalls, double standardWall) = (runs[0].Manifest.DenoiserCalls, runs[0].Wall);
        foreach ((TimedRun run, int i) in runs.Select((r, i) => (r, i)))
        {
            (GenerationManifest m, double wall) = (run.Manifest, run.Wall);
            int count = m.Prompts.Count;
            (RunScores? scores, RunComparison? comparison) = Evaluate(Path.Combine(outPath, run.Folder), i == 0 ? null : standardDir);
            ManifestTimings t = m.Timings;
            double callsRatio = (double)m.DenoiserCalls / standardCalls;
            rows.Add(new BenchRow(
                run.Name, run.Folder, m.Steps, m.DenoiserCalls, 1 - callsRatio, callsRatio, wall, wall / standardWall, m.ModelCalls?.MeanFill, count / wall,
                t.Encode, t.Cluster, t.Denoise, t.Decode, Math.Max(0, wall - t.Encode - t.Cluster - t.Denoise - t.Decode),
                scores?.MeanScore, i == 0 ? (scores is null ? null : 50.0) : comparison?.WinPercent,
                comparison is null ? null : $"{comparison.Wins} / {comparison.Ties} / {comparison.Losses}", scores?.Diversity));
        }

        return rows;
    }

    /// <summary>One run of the bench and the fastest of its makings (its manifest holds that making's phases).</summary>
    private sealed class TimedRun(string name, string folder, GenerationOptions options)
    {
        public string Name => name;

        public string Folder => folder;

        public GenerationManifest Manifest { get; private set; } = null!;

        public double Wall { get; private set; } = double.MaxValue;

        /// <summary>Makes the run (again: the images are the same bytes each time), keeping the faster timing.</summary>
        public TimedRun Make(string promptPath, string outPath, ITextToImageModel model)
        {
            var clock = Stopwatch.StartNew();
            GenerationManifest made = RunExport.Run(promptPath, Path.Combine(outPath, folder), options, model, overwrite: true, null, keepNodes: false);
            if (clock.Elapsed.TotalSeconds < Wall)
            {
                (Manifest, Wall) = (made, clock.Elapsed.TotalSeconds);
            }

            return this;
        }
    }

    /// <summary>Refuses a number of rounds the bench does not make (--rounds).</summary>
    public static int CheckRounds(int rounds) => rounds is >= 1 and <= MaxRounds
        ? rounds
        : throw new HierDiffInputException($"--rounds must be 1 to {MaxRounds}, not {rounds}");

    /// <summary>Writes bench.md (<see cref="MarkdownTable"/>) and bench.json (the rows) into <paramref name="outPath"/>;
    /// returns the table.</summary>
    public static string Write(string outPath, IReadOnlyList<BenchRow> rows, int prompts, int steps, string model, int rounds = 1)
    {
        string table = MarkdownTable(rows, prompts, steps, model, rounds);
        File.WriteAllText(Path.Combine(outPath, MarkdownFile), table);
        File.WriteAllBytes(Path.Combine(outPath, JsonFile), JsonSerializer.SerializeToUtf8Bytes(rows, Json));
        return table;
    }

    /// <summary>Standard generation with the average calls per image of a hierarchical run, spent as fewer steps.
    /// PNDM makes more calls than steps; the standard row says how many more.</summary>
    private static (string, string, GenerationOptions) FewerSteps(GenerationManifest standard, GenerationManifest hierarchical, GenerationOptions options)
    {
        int prompts = standard.Prompts.Count;
        long extraCalls = (standard.DenoiserCalls / prompts) - standard.Steps;
        int steps = Math.Max(1, (int)(Math.Round((double)hierarchical.DenoiserCalls / prompts) - extraCalls));
        return ($"standard, {steps} steps (same calls)", $"standard-{steps}-steps", Standard(options, steps));
    }

    /// <summary>Standard generation shares nothing, so it has no split schedule.</summary>
    private static GenerationOptions Standard(GenerationOptions options, int steps) =>
        options with { Mode = GenerationMode.Standard, Steps = steps, SplitShape = 1.0, PrivateSteps = 0 };

    /// <summary>Scores and the comparison with standard, where the prompts are the shapes world's (else none).</summary>
    private static (RunScores?, RunComparison?) Evaluate(string dir, string? standardDir)
    {
        try
        {
            RunScores scores = RunEvaluation.Evaluate(dir);
            return (scores, standardDir is null ? null : RunEvaluation.Compare(dir, standardDir));
        }
        catch (HierDiffInputException)
        {
            return (null, null);
        }
    }

    /// <summary>The benches of several models on the same prompts, side by side: for each run (standard, each
    /// target's hierarchical run, standard at its calls) each model's calls, savings, mean score and win %.</summary>
    public static string ModelComparisonTable(IReadOnlyList<(string Model, IReadOnlyList<BenchRow> Rows)> benches, IReadOnlyList<double> targets, int prompts, int steps)
    {
        CultureInfo c = CultureInfo.InvariantCulture;
        static string Or(double? value, string format) => value is double v ? v.ToString(format, CultureInfo.InvariantCulture) : "n/a";
        var text = new StringBuilder();
        text.AppendLine(c, $"{prompts} prompts, {steps} steps for standard generation; models {string.Join(", ", benches.Select(b => b.Model))}, one after another in one process");
        text.AppendLine();
        text.Append("| run |");
        foreach ((string model, _) in benches)
        {
            text.Append(c, $" {model}: steps | calls / image | savings | mean score | win % vs standard |");
        }

        text.AppendLine();
        text.Append("| --- |");
        text.Append(string.Concat(Enumerable.Repeat(" ---: | ---: | ---: | ---: | ---: |", benches.Count)));
        text.AppendLine();
        for (int i = 0; i <= 2 * targets.Count; i++)
        {
            string run = i == 0 ? "standard" : i % 2 == 1 ? $"hierarchical, {targets[i / 2]:0.##} target" : $"standard at the calls of the {targets[(i - 1) / 2]:0.##} target";
            text.Append(c, $"| {run} |");
            foreach ((_, IReadOnlyList<BenchRow> rows) in benches)
            {
                BenchRow r = rows[i];
                text.Append(c, $" {r.Steps} | {(double)r.DenoiserCalls / prompts:0.0} | {r.Savings:0.0%} | {Or(r.MeanScore, "0.000")} | {Or(r.WinPercent, "0.0")} |");
            }

            text.AppendLine();
        }

        return text.ToString();
    }

    public static string MarkdownTable(IReadOnlyList<BenchRow> rows, int prompts, int steps, string model, int rounds = 1)
    {
        CultureInfo c = CultureInfo.InvariantCulture;
        static string Or(double? value, string format) => value is double v ? v.ToString(format, CultureInfo.InvariantCulture) : "n/a";
        var text = new StringBuilder();
        text.AppendLine(c, $"{prompts} prompts, model {model}, {steps} steps for standard generation; one process, runs one after another{(rounds > 1 ? $", each the fastest of {rounds} rounds" : "")}");
        text.AppendLine();
        text.AppendLine("| run | denoiser calls | savings | calls / standard | wall s | wall / standard | batch fill | images/s | mean score | win % vs standard | wins / ties / losses | diversity | encode s | cluster s | denoise s | decode s | orchestration s |");
        text.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (BenchRow r in rows)
        {
            text.AppendLine(c,
                $"| {r.Run} | {r.DenoiserCalls:N0} | {r.Savings:0.0%} | {r.CallsRatio:0.00} | {r.WallSeconds:0.0} | {r.WallRatio:0.00} | {Or(r.MeanBatchFill, "0.00")} | {r.ImagesPerSecond:0.0} | {Or(r.MeanScore, "0.000")} | " +
                $"{Or(r.WinPercent, "0.0")} | {r.WinsTiesLosses ?? "-"} | {Or(r.Diversity, "0.000")} | {r.EncodeSeconds:0.00} | {r.ClusterSeconds:0.00} | " +
                $"{r.DenoiseSeconds:0.00} | {r.DecodeSeconds:0.00} | {r.OrchestrationSeconds:0.00} |");
        }

        return text.ToString();
    }
}
