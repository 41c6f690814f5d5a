using HierDiff.ShapesWorld.Evaluation;

namespace HierDiff.Cli.Commands;

/// <summary><c>hierdiff eval</c>: scores a generated run of shapes-world prompts from its pixels, writing scores.json.</summary>
internal static class EvalCommand
{
    public static Command Create() => HierDiffCli.RunFolderCommand(
        "eval",
        "Score each image of a shapes-world run against its prompt (colours, kind, size, position, pattern) and measure diversity",
        "Run folder written by hierdiff generate (manifest.json and images/); scores.json is written into it",
        folder => WriteTable(RunEvaluation.Evaluate(folder), Path.Combine(folder, RunEvaluation.ScoresFile)));

    private static void WriteTable(RunScores scores, string path)
    {
        CultureInfo c = CultureInfo.InvariantCulture;
        var table = new Table().Border(TableBorder.Rounded).Title("evaluation").AddColumn("").AddColumn(new TableColumn("").RightAligned());
        table.HideHeaders();
        void Row(string name, string value) => table.AddRow(Markup.Escape(TerminalText.Escape(name)), Markup.Escape(TerminalText.Escape(value)));
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
        if (scores.Savings is double s)
        {
            Row("savings (from manifest)", s.ToString("0.00%", c));
        }

        Row("written", path);
        AnsiConsole.Write(table);
    }
}
