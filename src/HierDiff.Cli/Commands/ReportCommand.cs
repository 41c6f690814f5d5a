using HierDiff.Report;

namespace HierDiff.Cli.Commands;

/// <summary><c>hierdiff report</c>: one self-contained HTML page about a run folder.</summary>
internal static class ReportCommand
{
    public static Command Create() => HierDiffCli.RunFolderCommand(
        "report",
        "Write report.html: the prompt tree with each node's steps and score, every image, savings, timings and GPU seconds",
        "Run folder written by hierdiff generate; report.html is written into it (with scores.json from hierdiff eval when present)",
        folder =>
        {
            string path = RunReport.Write(folder);
            Console.WriteLine($"wrote {TerminalText.Escape(path)}");
        });
}
