using System.Text.Json;
using System.Text.RegularExpressions;

namespace HierDiff.Pipeline.RunFolders;

/// <summary>
/// Recognises a folder that holds a previous HierDiff run and nothing of the user's: a manifest.json as generate
/// writes it, the images it lists, and only the other files HierDiff commands write into a run folder (plan.json,
/// nodes/, scores.json, compare.json, report.html and its pages in report/, a sharded run's shard manifests in shards/).
/// Only such a folder may be replaced by <c>--overwrite</c>.
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
                "shards" => !isLink && Directory.Exists(entry),
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
            ?? Foreign(folder, "shards", name => ShardManifest().IsMatch(name), _ => false)
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

    /// <summary>The image file names a run's manifest lists (images/NAME), with a sharded run's those its shards'
    /// manifests list, or null where it is not a run's manifest.</summary>
    private static HashSet<string>? ListedImages(string manifestPath)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        using JsonDocument? manifest = ReadJson(manifestPath);
        if (manifest?.RootElement is not { ValueKind: JsonValueKind.Object } root
            || !root.TryGetProperty("mode", out JsonElement mode) || mode.ValueKind != JsonValueKind.String
            || !root.TryGetProperty("denoiser_calls", out JsonElement calls) || calls.ValueKind != JsonValueKind.Number
            || !AddImages(root, names))
        {
            return null;
        }

        if (root.TryGetProperty("shards", out JsonElement shards))
        {
            if (shards.ValueKind != JsonValueKind.Array)
            {
                return null;
            }

            foreach (JsonElement shard in shards.EnumerateArray())
            {
                if (shard.ValueKind != JsonValueKind.Object || !shard.TryGetProperty("manifest", out JsonElement name)
                    || name.GetString() is not string file || !file.StartsWith("shards/", StringComparison.Ordinal) || !ShardManifest().IsMatch(file["shards/".Length..]))
                {
                    return null;
                }

                using JsonDocument? own = ReadJson(Path.Combine(Path.GetDirectoryName(manifestPath)!, "shards", file["shards/".Length..]));
                if (own?.RootElement is not { ValueKind: JsonValueKind.Object } shardRoot || !AddImages(shardRoot, names))
                {
                    return null;
                }
            }
        }

        return names;
    }

    /// <summary>Adds the images a manifest's <c>images</c> lists; false where it lists none or something else.</summary>
    private static bool AddImages(JsonElement manifest, HashSet<string> names)
    {
        if (!manifest.TryGetProperty("images", out JsonElement list) || list.ValueKind != JsonValueKind.Array)
        {
            return false;
        }

        foreach (JsonElement image in list.EnumerateArray())
        {
            if (image.ValueKind != JsonValueKind.String || image.GetString() is not string path || !path.StartsWith("images/", StringComparison.Ordinal))
            {
                return false;
            }

            names.Add(path["images/".Length..]);
        }

        return true;
    }

    /// <summary>A JSON file that is a file of its own (no link), or null where it is not one or not JSON.</summary>
    private static JsonDocument? ReadJson(string path)
    {
        var file = new FileInfo(path);
        if (!file.Exists || file.LinkTarget is not null || file.Length > 1L << 30)
        {
            return null;
        }

        try
        {
            using FileStream stream = file.OpenRead();
            return JsonDocument.Parse(stream);
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    [GeneratedRegex(@"^[0-9]+\.png$")]
    private static partial Regex NodeImage();

    [GeneratedRegex(@"^[0-9]{5}\.json$")]
    private static partial Regex ShardManifest();
}
