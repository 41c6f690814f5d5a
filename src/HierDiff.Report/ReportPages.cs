using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using HierDiff.Core.Runs;
using HierDiff.Pipeline.RunFolders;

namespace HierDiff.Report;

/// <summary>The page files of a report in DIR/report/ (<see cref="ReportPageNames"/>).</summary>
public static class ReportPages
{
    public const string Folder = ReportPageNames.Folder;

    public static string Name(string version, int page) => ReportPageNames.Name(version, page);

    /// <summary>What the report draws, hashed: a report of the same run, scores and page size has the same pages
    /// under the same names; anything else gets names of its own, so it never overwrites pages report.html links to.</summary>
    public static string Version(ReportRun run, int pagePrompts)
    {
        string drawn = $"{run.Manifest.GetRawText()}\n{(run.Scores is null ? "" : JsonSerializer.Serialize(run.Scores))}\n{string.Join(',', run.NodeImages.Keys.Order())}\n{pagePrompts}";
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(drawn)))[..16];
    }

    public static void Write(RunFolder folder, string name, byte[] html) => folder.Write(Folder, name, html);

    /// <summary>Deletes the pages of every other version (all of them with <paramref name="keep"/> null), and
    /// what an interrupted write of one left; nothing else in DIR/report/ is touched.</summary>
    public static void Remove(RunFolder folder, string? keep) =>
        folder.DeleteFiles(Folder, name => ReportPageNames.IsOurs(name) && (ReportPageNames.VersionOf(name) != keep || name.StartsWith('.')));
}
