using System.Text.Json;
using System.Text.RegularExpressions;

namespace HierDiff.Pipeline.RunFolders;

/// <summary>
/// Recognises a folder that holds a previous HierDiff run and nothing of the user's: a manifest.json as generate
/// writes it, the images it lists, and only the other files HierDiff commands write into a run folder (plan.json,
/// nodes/, scores.json, compare.json, report.html and its pages in report/). Only such a folder may be replaced by <c>--overwrite</c>.
/// </summary>
internal static partial class PreviousRun
{
    private static readonly HashSet<string> RunFiles = ["manifest.json", "plan.json", "scores.json", "compare.json", "report.html"];

    /// <summary>What a report or eval killed while writing leaves: its temporary file (see RunFolder.Write).</summary>
    private static readonly Regex InterruptedWrite = new(@"^\.(manifest\.json|plan\.json|scores\.json|compare\.json|report\.html)\.[0-9a-f]{32}\.tmp$");

    /// <summary>Null where <paramref name="folder"/> holds a previous run only; else the first thing in it that
    /// HierDiff did not write, described for an error message.</summary>
    public static string? ForeignEntry(string folder)
    {
        string manifestPath = Path.Combine(folder, "manifest.json");
        HashSet<string>? images = ListedImages(manifestPath);
        if (images is null)
        {
            return "no manifest.json of a HierDiff run";
        }

        foreach (string entry in Directory.EnumerateFileSystemEntries(folder).Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileName(entry);
            var info = new FileInfo(entry);
            bool isLink = info.LinkTarget is not null;
            bool ok = name switch
            {
                "images" => !isLink && Directory.Exists(entry),
                "nodes" => !isLink && Directory.Exists(entry),
                ReportPageNames.Folder => !isLink && Directory.Exists(entry),
                _ => !isLink && info.Exists && (RunFiles.Contains(name) || InterruptedWrite.IsMatch(name)),
            };
            if (!ok)
            {
                return $"'{name}'";
            }
        }

        // Large runs keep their images in folders of a thousand (images/000/000123.png): those folders are ours too.
        HashSet<string> imageFolders = [.. images.Where(i => i.Contains('/')).Select(i => i[..i.LastIndexOf('/')])];
        return Foreign(folder, "images", name => images.Contains(name), imageFolders.Contains)
            ?? Foreign(folder, "nodes", name => NodeImage().IsMatch(name), _ => false)
            ?? Foreign(folder, ReportPageNames.Folder, ReportPageNames.IsOurs, _ => false);
    }

    /// <summary>The first entry under <paramref name="sub"/> that is neither one of our files nor one of our
    /// folders (searched in turn), as an error message names it; null where all are ours.</summary>
    private static string? Foreign(string folder, string sub, Func<string, bool> ourFile, Func<string, bool> ourFolder)
    {
        string root = Path.Combine(folder, sub);
        var pending = new Stack<string>();
        if (Directory.Exists(root))
        {
            pending.Push("");
        }

        while (pending.Count > 0)
        {
            string relative = pending.Pop();
            foreach (string entry in Directory.EnumerateFileSystemEntries(Path.Combine(root, relative)).Order(StringComparer.Ordinal))
            {
                string name = relative.Length == 0 ? Path.GetFileName(entry) : $"{relative}/{Path.GetFileName(entry)}";
                var info = new FileInfo(entry);
                if (info.LinkTarget is null && Directory.Exists(entry) && ourFolder(name))
                {
                    pending.Push(name);
                }
                else if (info.LinkTarget is not null || !info.Exists || !ourFile(name))
                {
                    return $"'{sub}/{name}'";
                }
            }
        }

        return null;
    }

    /// <summary>The image file names a run's manifest lists (images/NAME), or null where it is not a run's manifest.</summary>
    private static HashSet<string>? ListedImages(string manifestPath)
    {
        var file = new FileInfo(manifestPath);
        if (!file.Exists || file.LinkTarget is not null || file.Length > 1L << 30)
        {
            return null;
        }

        try
        {
            using FileStream stream = file.OpenRead();
            using JsonDocument manifest = JsonDocument.Parse(stream);
            JsonElement root = manifest.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("mode", out JsonElement mode) || mode.ValueKind != JsonValueKind.String
                || !root.TryGetProperty("denoiser_calls", out JsonElement calls) || calls.ValueKind != JsonValueKind.Number
                || !root.TryGetProperty("images", out JsonElement list) || list.ValueKind != JsonValueKind.Array)
            {
                return null;
            }

            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (JsonElement image in list.EnumerateArray())
            {
                if (image.ValueKind != JsonValueKind.String || image.GetString() is not string path || !path.StartsWith("images/", StringComparison.Ordinal))
                {
                    return null;
                }

                names.Add(path["images/".Length..]);
            }

            return names;
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    [GeneratedRegex(@"^[0-9]+\.png$")]
    private static partial Regex NodeImage();
}
