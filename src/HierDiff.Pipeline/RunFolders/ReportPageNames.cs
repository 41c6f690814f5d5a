using System.Globalization;
using System.Text.RegularExpressions;

namespace HierDiff.Pipeline.RunFolders;

/// <summary>
/// The pages of a large run's report, in DIR/report/: {version}-{page}.html, the version a hash of what the report
/// drew. Here so that both the report that writes them and <c>--overwrite</c>, which must know them as HierDiff's,
/// read them the same way.
/// </summary>
public static partial class ReportPageNames
{
    public const string Folder = "report";

    public static string Name(string version, int page) => $"{version}-{(page + 1).ToString("0000", CultureInfo.InvariantCulture)}.html";

    /// <summary>A page of any version, or what writing one left when interrupted (see RunFolder.Write).</summary>
    public static bool IsOurs(string name) => Page().IsMatch(name);

    /// <summary>The version of a page's name, or null for a name that is not a page's.</summary>
    public static string? VersionOf(string name) => Page().Match(name) is { Success: true } m ? m.Groups[1].Value : null;

    [GeneratedRegex(@"^\.?([0-9a-f]{16})-[0-9]{4,}\.html(\.[0-9a-f]{32}\.tmp)?$")]
    private static partial Regex Page();
}
