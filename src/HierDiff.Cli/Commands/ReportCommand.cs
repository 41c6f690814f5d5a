using HierDiff.Report;

namespace HierDiff.Cli.Commands;

/// <summary><c>hierdiff report</c>: one self-contained HTML page about a run folder.</summary>
internal static class ReportCommand
{
    public static Command Create()
    {
        var run = new Option<DirectoryInfo>("--run")
        {
            Description = "Run folder written by hierdiff generate; report.html is written into it (with scores.json from hierdiff eval when present)",
            Required = true,
        };
        var command = new Command("report", "Write report.html: the prompt tree with each node's steps and score, every image, savings, timings and GPU seconds")
        {
            run,
        };
        command.SetAction(parse =>
        {
            string path = RunReport.Write(parse.GetValue(run)!.ToString());
            Console.WriteLine($"wrote {TerminalText.Escape(path)}");
            return 0;
        });
        return command;
    }
}
