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

/// <summary>One run of the bench: what it cost, how long it took and where, and how good it was.</summary>
public sealed record BenchRow(
    string Run,
    string Folder,
    int Steps,
    long DenoiserCalls,
    double Savings,
    double WallSeconds,
    double WallRatio,
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

    /// <summary>The side-by-side table of a bench of several models.</summary>
    public const string ModelComparisonFile = "models.md";

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>Makes every run into <paramref name="outPath"/>, one after another, telling <paramref name="log"/> a
    /// line as each ends.</summary>
    public static IReadOnlyList<BenchRow> Run(
        string promptPath, string outPath, GenerationOptions options, IReadOnlyList<double> targets, ITextToImageModel model, Action<string>? log = null)
    {
        Directory.CreateDirectory(outPath);

        // Warm-up (sessions, JIT) on a few prompts, so the first measured run does not pay for it.
        string warm = Path.Combine(outPath, ".warm-up");
        string warmPrompts = Path.Combine(outPath, ".warm-up.txt");
        File.WriteAllLines(warmPrompts, PromptFileReader.Read(promptPath).Texts.Take(4));
        RunExport.Run(warmPrompts, warm, Standard(options, 2), model, overwrite: true, null, keepNodes: false);
        Directory.Delete(warm, recursive: true);
        File.Delete(warmPrompts);

        var rows = new List<BenchRow>();
        int count = 0;
        double standardWall = 0;
        string standardDir = Path.Combine(outPath, "standard");
        for (int i = 0; i <= 2 * targets.Count; i++)
        {
            // Standard first; then each target's hierarchical run, followed by standard at its calls per image.
            (string name, string folder, GenerationOptions runOptions) = i == 0
                ? ($"standard, {options.Steps} steps", "standard", Standard(options, options.Steps))
                : i % 2 == 1
                    ? ($"hierarchical, {targets[i / 2]:0.##} target", $"hierarchical-{targets[i / 2]:0.##}", options with { TargetSavings = targets[i / 2] })
                    : FewerSteps(rows[0], rows[^1], count, options);
            string dir = Path.Combine(outPath, folder);
            var clock = Stopwatch.StartNew();
            GenerationManifest m = RunExport.Run(promptPath, dir, runOptions, model, overwrite: true, null, keepNodes: false);
            double wall = clock.Elapsed.TotalSeconds;
            count = m.Prompts.Count;
            standardWall = i == 0 ? wall : standardWall;
            (RunScores? scores, RunComparison? comparison) = Evaluate(dir, i == 0 ? null : standardDir);
            ManifestTimings t = m.Timings;
            rows.Add(new BenchRow(
                name, folder, m.Steps, m.DenoiserCalls, i == 0 ? 0 : 1 - ((double)m.DenoiserCalls / rows[0].DenoiserCalls), wall, wall / standardWall, count / wall,
                t.Encode, t.Cluster, t.Denoise, t.Decode, Math.Max(0, wall - t.Encode - t.Cluster - t.Denoise - t.Decode),
                scores?.MeanScore, i == 0 ? (scores is null ? null : 50.0) : comparison?.WinPercent,
                comparison is null ? null : $"{comparison.Wins} / {comparison.Ties} / {comparison.Losses}", scores?.Diversity));
            log?.Invoke($"{name}: {wall:0.0} s, {m.DenoiserCalls:N0} calls");
        }

        return rows;
    }

    /// <summary>Writes bench.md (<see cref="MarkdownTable"/>) and bench.json (the rows) into <paramref name="outPath"/>;
    /// returns the table.</summary>
    public static string Write(string outPath, IReadOnlyList<BenchRow> rows, int prompts, int steps, string model)
    {
        string table = MarkdownTable(rows, prompts, steps, model);
        File.WriteAllText(Path.Combine(outPath, MarkdownFile), table);
        File.WriteAllBytes(Path.Combine(outPath, JsonFile), JsonSerializer.SerializeToUtf8Bytes(rows, Json));
        return table;
    }

    /// <summary>Standard generation with the average calls per image of a hierarchical run, spent as fewer steps.
    /// PNDM makes more calls than steps; the standard row says how many more.</summary>
    private static (string, string, GenerationOptions) FewerSteps(BenchRow standard, BenchRow hierarchical, int prompts, GenerationOptions options)
    {
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

    public static string MarkdownTable(IReadOnlyList<BenchRow> rows, int prompts, int steps, string model)
    {
        CultureInfo c = CultureInfo.InvariantCulture;
        static string Or(double? value, string format) => value is double v ? v.ToString(format, CultureInfo.InvariantCulture) : "n/a";
        var text = new StringBuilder();
        text.AppendLine(c, $"{prompts} prompts, model {model}, {steps} steps for standard generation; one process, runs one after another");
        text.AppendLine();
        text.AppendLine("| run | denoiser calls | savings | wall s | wall / standard | images/s | mean score | win % vs standard | wins / ties / losses | diversity | encode s | cluster s | denoise s | decode s | orchestration s |");
        text.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (BenchRow r in rows)
        {
            text.AppendLine(c,
                $"| {r.Run} | {r.DenoiserCalls:N0} | {r.Savings:0.0%} | {r.WallSeconds:0.0} | {r.WallRatio:0.00} | {r.ImagesPerSecond:0.0} | {Or(r.MeanScore, "0.000")} | " +
                $"{Or(r.WinPercent, "0.0")} | {r.WinsTiesLosses ?? "-"} | {Or(r.Diversity, "0.000")} | {r.EncodeSeconds:0.00} | {r.ClusterSeconds:0.00} | " +
                $"{r.DenoiseSeconds:0.00} | {r.DecodeSeconds:0.00} | {r.OrchestrationSeconds:0.00} |");
        }

        return text.ToString();
    }
}
