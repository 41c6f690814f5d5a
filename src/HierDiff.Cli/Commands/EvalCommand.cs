using HierDiff.Core.Runs;
using HierDiff.Report;
using HierDiff.ShapesWorld.Evaluation;

namespace HierDiff.Cli.Commands;

/// <summary><c>hierdiff eval</c>: scores each image of a generated run against its prompt, writing scores.json: by the
/// shapes world's evaluator (attributes read from the pixels), or with <c>--evaluator</c> by a CLIP model.</summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var run = new Option<DirectoryInfo>("--run")
        {
            Description = "Run folder written by hierdiff generate (manifest.json and images/); scores.json is written into it",
            Required = true,
        };
        var evaluator = new EvaluatorOptions();
        var command = new Command(
            "eval",
            "Score each image of a run against its prompt and measure diversity: shapes-world prompts by their attributes " +
            "(colours, kind, size, position, pattern), any prompts with --evaluator by CLIP score")
        {
            run,
        };
        evaluator.AddTo(command);
        command.SetAction(parse =>
        {
            string folder = parse.GetValue(run)!.ToString();
            string path = Path.Combine(folder, RunScoresFile.FileName);
            using ClipEvaluator? clip = evaluator.Clip(parse);
            if (clip is null)
            {
                WriteTable(RunEvaluation.Evaluate(folder), path);
            }
            else
            {
                RunManifest manifest = RunManifest.Read(RunFolder.Open(folder));
                clip.Evaluate(manifest);
                WriteTable(clip.Score(manifest), path);
            }

            return 0;
        });
        return command;
    }

    private static void WriteTable(RunScores scores, string path)
    {
        CultureInfo c = CultureInfo.InvariantCulture;
        Table table = NewTable();
        void Row(string name, string value) => AddRow(table, name, value);
        Row("evaluator", ShapesEvaluator.EvaluatorName);
        Row("images", scores.Images.Count.ToString(c));
        Row("mean score", scores.MeanScore.ToString("0.0000", c));
        foreach ((string name, double mean) in scores.AttributeMeans)
        {
            int named = scores.Images.Count(i => i.Attributes.ContainsKey(name));
            Row($"  {name.Replace('_', ' ')}", $"{mean.ToString("0.0000", c)}  ({named} prompts)");
        }

        int missing = scores.Images.Count(i => !i.ShapeFound);
        if (missing > 0)
        {
            Row("images with no shape", missing.ToString(c));
        }

        Row("diversity (lower: more diverse)", scores.Diversity is double d
            ? $"{d.ToString("0.0000", c)}  (mean cosine, {Math.Min(scores.Images.Count, RunEvaluation.DiversityImages)} images)"
            : "n/a (one image)");
        Finish(table, scores.Savings, path);
    }

    private static void WriteTable(ClipRunScores scores, string path)
    {
        CultureInfo c = CultureInfo.InvariantCulture;
        Table table = NewTable();
        void Row(string name, string value) => AddRow(table, name, value);
        Row("evaluator", scores.Evaluator);
        Row("images", scores.Images.Count.ToString(c));
        Row("mean CLIP score", scores.MeanScore.ToString("0.00", c));
        Row("lowest / highest", $"{scores.Images.Min(i => i.Score).ToString("0.00", c)} / {scores.Images.Max(i => i.Score).ToString("0.00", c)}");
        Row("diversity (lower: more diverse)", scores.Diversity is double d
            ? $"{d.ToString("0.0000", c)}  (mean cosine of CLIP image embeddings, {scores.DiversityImages} images drawn with seed {ClipEvaluator.DiversitySeed})"
            : "n/a (one image)");
        Finish(table, scores.Savings, path);
    }

    private static Table NewTable()
    {
        var table = new Table().Border(TableBorder.Rounded).Title("evaluation").AddColumn("").AddColumn(new TableColumn("").RightAligned());
        table.HideHeaders();
        return table;
    }

    private static void AddRow(Table table, string name, string value) =>
        table.AddRow(Markup.Escape(TerminalText.Escape(name)), Markup.Escape(TerminalText.Escape(value)));

    private static void Finish(Table table, double? savings, string path)
    {
        if (savings is double s)
        {
            AddRow(table, "savings (from manifest)", s.ToString("0.00%", CultureInfo.InvariantCulture));
        }

        AddRow(table, "written", path);
        AnsiConsole.Write(table);
    }
}
