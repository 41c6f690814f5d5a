using HierDiff.Report;

namespace HierDiff.Cli.Commands;

/// <summary><c>hierdiff report</c>: one self-contained HTML page about a run folder (and, for a large run, pages of
/// its tree in report/).</summary>
internal static class ReportCommand
{
    public static Command Create()
    {
        var pagePrompts = new Option<int>("--page-prompts")
        {
            Description = $"Most prompts on one page; a larger run's report.html shows the top of the tree and links to pages of its clusters in report/ ({RunReport.MinPagePrompts} to {RunReport.MaxPagePrompts})",
            DefaultValueFactory = _ => RunReport.PagePrompts,
        };
        Command command = HierDiffCli.RunFolderCommand(
            "report",
            "Write report.html: the prompt tree with each node's steps and score, every image, savings, timings and GPU seconds",
            "Run folder written by hierdiff generate; report.html is written into it (with scores.json from hierdiff eval when present)",
            (folder, parse) =>
            {
                string path = RunReport.Write(folder, parse.GetValue(pagePrompts));
                Console.WriteLine($"wrote {TerminalText.Escape(path)}");
            });
        command.Add(pagePrompts);
        return command;
    }
}
