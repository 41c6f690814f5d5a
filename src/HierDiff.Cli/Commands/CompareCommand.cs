using HierDiff.Report;
using HierDiff.ShapesWorld.Evaluation;

namespace HierDiff.Cli.Commands;

/// <summary><c>hierdiff compare</c>: two runs of the same prompts, image by image: wins, ties and losses of the first.</summary>
internal static class CompareCommand
{
    public static Command Create()
    {
        var runA = new Argument<DirectoryInfo>("run-a") { Description = "Run folder A (e.g. hierarchical)" };
        var runB = new Argument<DirectoryInfo>("run-b") { Description = "Run folder B (e.g. standard), of the same prompts" };
        var output = new Option<FileInfo?>("--out") { Description = "Where to write the JSON (default: RUN_A/compare.json)" };
        var evaluator = new EvaluatorOptions();
        CultureInfo c = CultureInfo.InvariantCulture;
        var command = new Command(
            "compare",
            "Compare two runs of the same prompts by evaluation score (uses or writes each run's scores.json, by the evaluator its scores.json " +
            $"names or --evaluator; a tie is within {ShapesEvaluator.DefaultTieThreshold.ToString(c)} for the shapes evaluator, " +
            $"{ClipEvaluator.DefaultTieThreshold.ToString(c)} CLIP points for CLIP)")
        {
            runA, runB, output,
        };
        evaluator.AddTo(command);
        command.SetAction(parse =>
        {
            using ClipEvaluator? clip = evaluator.Clip(parse);
            RunComparison result = RunEvaluation.Compare(parse.GetValue(runA)!.ToString(), parse.GetValue(runB)!.ToString(), parse.GetValue(output)?.ToString(), clip);
            WriteTable(result);
            return 0;
        });
        return command;
    }

    private static void WriteTable(RunComparison r)
    {
        CultureInfo c = CultureInfo.InvariantCulture;
        var table = new Table().Border(TableBorder.Rounded).Title("A against B").AddColumn("").AddColumn(new TableColumn("").RightAligned());
        table.HideHeaders();
        void Row(string name, string value) => table.AddRow(Markup.Escape(TerminalText.Escape(name)), Markup.Escape(TerminalText.Escape(value)));
        Row("A", r.RunA + (r.ModeA is null ? "" : $"  ({r.ModeA})"));
        Row("B", r.RunB + (r.ModeB is null ? "" : $"  ({r.ModeB})"));
        Row("evaluator", $"{r.Evaluator} (a tie is within {r.TieThreshold.ToString(c)})");
        Row("prompts", r.Prompts.ToString(c));
        Row("wins / ties / losses of A", $"{r.Wins} / {r.Ties} / {r.Losses}");
        Row("win % of A (ties count half)", r.WinPercent.ToString("0.0", c) + "%");
        Row("mean score A / B", $"{r.MeanScoreA.ToString("0.0000", c)} / {r.MeanScoreB.ToString("0.0000", c)}");
        Row("mean score difference (A - B)", r.MeanScoreDifference.ToString("+0.0000;-0.0000;0.0000", c));
        Row("savings A", r.SavingsA is double sa ? sa.ToString("0.00%", c) : "n/a");
        Row("savings B", r.SavingsB is double sb ? sb.ToString("0.00%", c) : "n/a");
        Row("written", r.OutputPath);
        AnsiConsole.Write(table);
    }
}
