using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using HierDiff.Core;
using HierDiff.Core.Planning;
using HierDiff.Pipeline.Activities;
using HierDiff.Pipeline.RunFolders;
using HierDiff.ShapesWorld.Evaluation;

namespace HierDiff.Report;

/// <summary>
/// <c>report.html</c>: one self-contained page about a run. A summary (savings, denoiser calls, timings, GPU
/// seconds), then the prompt tree as nested &lt;details&gt;: each node with its steps, merge height, prompt count and
/// mean evaluation score; each prompt with its image, text and score. Images travel as data: URIs in one JSON blob
/// and become &lt;img&gt; elements only when their node is opened, so a 2,000-prompt page opens fast. Every text from
/// the run is HTML-encoded, and a Content-Security-Policy lets only this page's own script run and nothing load.
/// </summary>
public static class RunReport
{
    public const string FileName = "report.html";

    /// <summary>Runs up to this many prompts open fully; larger ones open the top levels of the tree.</summary>
    public const int OpenAllUpTo = 100;

    /// <summary>Most prompts on one page (a 2,000-prompt page is about 27 MB and opens in about 2 s): a larger run's
    /// report.html has the top of the tree, and its clusters of at most this many prompts are on pages of their own.</summary>
    public const int PagePrompts = 2_000;

    public const int MinPagePrompts = 2;

    public const int MaxPagePrompts = 100_000;

    private const int OpenDepth = 3;

    /// <summary>Larger runs also open, down the first branches, one cluster of at most this many prompts: an example
    /// of the tree's leaves and images on view as the page opens.</summary>
    private const int ExampleCluster = 16;

    /// <summary>Prompts of a run without a tree are listed in groups of this many.</summary>
    private const int GroupSize = 100;

    private static readonly CultureInfo C = CultureInfo.InvariantCulture;

    /// <summary>Where <c>generate --keep-node-images</c> puts a shared cluster's decoded latent.</summary>
    public static string NodeImage(int node) => RunExport.NodeImage(node);

    /// <summary>Writes DIR/report.html (and, for a run of more than <paramref name="pagePrompts"/> prompts with a
    /// tree, its pages in DIR/report/) and returns its path.</summary>
    public static string Write(string runDirectory, int pagePrompts = PagePrompts)
    {
        if (pagePrompts is < MinPagePrompts or > MaxPagePrompts)
        {
            throw new HierDiffInputException($"--page-prompts must be {MinPagePrompts} to {MaxPagePrompts:N0}, not {pagePrompts}");
        }

        ReportRun run = ReportRun.Load(runDirectory);
        run.Folder.HasOwnFolder(ReportPages.Folder);
        if (run.Tree is not { Tree.Count: > 0 } tree || run.Prompts.Count <= pagePrompts)
        {
            run.Folder.Write(FileName, Utf8(Render(run, Title(run), "", w => w.Whole(), run.Prompts.Select(p => p.Index), run.NodeImages.Keys)));
            ReportPages.Remove(run.Folder, keep: null);
            return run.Folder.Show(FileName);
        }

        // The pages first, under a name of this report's own, then report.html, which links to them: at every
        // moment report.html and the pages it links to are whole. Then the pages of earlier reports go.
        var layout = new PageLayout(tree, pagePrompts);
        string version = ReportPages.Version(run, pagePrompts);
        for (int page = 0; page < layout.Pages.Count; page++)
        {
            int[] roots = [.. layout.Pages[page]];
            int[] below = [.. roots.SelectMany(tree.Below)];
            string html = Render(
                run,
                $"{Title(run)}, page {page + 1} of {layout.Pages.Count}",
                $"<p><a href=\"../{FileName}\">Back to the run's summary and the top of its tree</a></p>\n",
                w => w.Subtrees(roots),
                below.Where(n => n < tree.Prompts),
                below.Where(run.NodeImages.ContainsKey));
            ReportPages.Write(run.Folder, ReportPages.Name(version, page), Utf8(html));
        }

        run.Folder.Write(FileName, Utf8(Render(run, Title(run), "", w => w.Top(layout, version), [], layout.TopNodes.Where(run.NodeImages.ContainsKey))));
        ReportPages.Remove(run.Folder, keep: version);
        return run.Folder.Show(FileName);
    }

    /// <summary>One page: the summary, then the tree as <paramref name="tree"/> writes it, then the images of the
    /// prompts and nodes it shows.</summary>
    private static string Render(ReportRun run, string title, string preface, Action<TreeWriter> tree, IEnumerable<int> prompts, IEnumerable<int> nodes)
    {
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
            .Append($"<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src '{ScriptHash()}'\">\n")
            .Append($"<title>{E(title)}</title>\n<style>{ReportAssets.Style}</style>\n</head>\n<body>\n<h1>{E(title)}</h1>\n").Append(preface);
        Summary(html, run);
        html.Append("<h2>Prompt tree</h2>\n<p class=\"legend\">Each node: its prompt count, the steps it denoised for all of them with their mean embedding, ")
            .Append("its score (the Ward merge height: it runs while the falling threshold is at or above it) and their mean evaluation score. ")
            .Append("Each prompt: its image, the steps it ran alone, its evaluation score.</p>\n")
            .Append("<p><button type=\"button\" id=\"expand\">Expand all</button> <button type=\"button\" id=\"collapse\">Collapse all</button></p>\n<div id=\"tree\">\n");
        if (run.Tree is { Tree.Count: > 0 } runTree)
        {
            tree(new TreeWriter(run, runTree, html));
        }
        else
        {
            FlatList(html, run);
        }

        html.Append("</div>\n<script type=\"application/json\" id=\"images\">").Append(ImagesJson(run, prompts, nodes)).Append("</script>\n")
            .Append("<script>").Append(ReportAssets.Script).Append("</script>\n</body>\n</html>\n");
        return html.ToString();
    }

    private static string Title(ReportRun run) => $"HierDiff run {Path.GetFileName(Path.GetFullPath(run.Folder.Path).TrimEnd(Path.DirectorySeparatorChar))}";

    private static byte[] Utf8(string html) => new UTF8Encoding(false).GetBytes(html);

    private static void Summary(StringBuilder html, ReportRun run)
    {
        JsonElement m = run.Manifest;
        var rows = new List<(string Name, string Value)>
        {
            ("prompts", run.Prompts.Count.ToString("N0", C)),
            ("model", $"{Text(m, "model")} on {Text(m, "device")}, {Text(m, "width")} x {Text(m, "height")}"),
            ("mode", Text(m, "mode") == "hierarchical"
                ? $"hierarchical, tau {Number(m, "tau", "0.#####")}" + (Get(m, "target_savings") is { ValueKind: JsonValueKind.Number } t ? $" (target savings {t.GetDouble().ToString("0.##%", C)})" : "")
                : Text(m, "mode")),
            ("scheduler", $"{Text(m, "scheduler")}, {Text(m, "steps")} steps, guidance {Text(m, "guidance")}, seed {Text(m, "seed")}"),
            ("denoiser calls", $"{Number(m, "denoiser_calls", "N0")} of {Number(m, "standard_denoiser_calls", "N0")} for standard generation"),
            ("savings", Number(m, "savings", "0.00%")),
            ("model calls", Get(m, "model_calls.calls") is { ValueKind: JsonValueKind.Number }
                ? $"{Number(m, "model_calls.calls", "N0")}, {Number(m, "model_calls.mean_batch", "0.0")} items a call ({Number(m, "model_calls.mean_fill", "0%")} of the max batch)"
                : "n/a (a manifest of an earlier build)"),
            ("time", $"{Number(m, "timings.total_s", "0.00")} s: encode {Number(m, "timings.encode_s", "0.00")}, cluster {Number(m, "timings.cluster_s", "0.00")}, " +
                $"denoise {Number(m, "timings.denoise_s", "0.00")}, decode {Number(m, "timings.decode_s", "0.00")}"),
            ("GPU seconds", $"{Number(m, "gpu.gpu_seconds", "0.00")} s billed ({Number(m, "gpu.workers", "0")} worker process(es)), {Number(m, "gpu.model_busy_seconds", "0.00")} s in the model; " +
                $"standard generation: about {Number(m, "gpu.standard_estimate_seconds", "0.00")} s"),
            ("cost", Get(m, "gpu.price_per_gpu_second") is { ValueKind: JsonValueKind.Number } price && price.GetDouble() > 0
                ? $"{Number(m, "gpu.cost", "0.0000")} (standard: {Number(m, "gpu.standard_estimate_cost", "0.0000")}) at {price.GetDouble().ToString("0.######", C)} per GPU-second"
                : "no price per GPU-second was set"),
        };
        if (Get(m, "shards") is { ValueKind: JsonValueKind.Array } shards)
        {
            // A sharded run: how its shards ended, and the top tree's calls that no shard owns.
            JsonElement[] all = [.. shards.EnumerateArray()];
            int failed = all.Count(e => e.TryGetProperty("status", out JsonElement status) && status.GetString() != "succeeded");
            rows.Insert(5, ("shards", $"{all.Length:N0}, {(failed == 0 ? "all succeeded" : $"{failed:N0} failed")}; {Number(m, "shared_denoiser_calls", "N0")} denoiser calls shared above them " +
                "(each shard's are in its manifest, shards/00000.json ...)"));
        }

        if (run.Scores is SavedScores s)
        {
            rows.Add(("evaluation", $"{s.Evaluator}: mean score {s.MeanScore.ToString("0.000", C)}, diversity {s.Diversity?.ToString("0.000", C) ?? "n/a"} (mean cosine of image features; lower is more diverse)"));
        }
        else
        {
            rows.Add(("evaluation", "none: hierdiff eval --run writes scores.json"));
        }

        html.Append("<table class=\"summary\">\n");
        foreach ((string name, string value) in rows)
        {
            html.Append($"<tr><th>{E(name)}</th><td>{E(value)}</td></tr>\n");
        }

        html.Append("</table>\n");
    }

    /// <summary>A run without a tree (standard generation, or one older than plan.json): its prompts in groups.</summary>
    private static void FlatList(StringBuilder html, ReportRun run)
    {
        string why = run.Tree is null ? "no plan.json in this run (older than hierdiff report), so no tree" : "standard generation: every prompt alone from step 0";
        html.Append($"<p class=\"legend\">{E(why)}.</p>\n");
        for (int start = 0; start < run.Prompts.Count; start += GroupSize)
        {
            int end = Math.Min(run.Prompts.Count, start + GroupSize);
            html.Append(start == 0 ? "<details class=\"node\" open>" : "<details class=\"node\">")
                .Append($"<summary>prompts {start}–{end - 1}</summary>\n");
            for (int i = start; i < end; i++)
            {
                Leaf(html, run.Prompts[i], false, "");
            }

            html.Append("</details>\n");
        }
    }

    private static void Leaf(StringBuilder html, ReportPrompt p, bool anchor, string steps)
    {
        html.Append($"<div class=\"leaf\"{(anchor ? $" id=\"node-{p.Index}\"" : "")}><span class=\"thumb\" data-img=\"{p.Index}\"></span><span class=\"idx\">#{p.Index}</span> ")
            .Append($"<span class=\"prompt\">{E(p.Text)}</span> <span class=\"meta\">{E(steps)}");
        if (p.Score is double score)
        {
            html.Append($"{(steps.Length > 0 ? " · " : "")}eval <b class=\"score\">{score.ToString("0.000", C)}</b>");
        }

        html.Append("</span></div>\n");
    }

    /// <summary>
    /// Writes the tree from the root down: a node is a &lt;details&gt;, a prompt a line. The tree was checked when read
    /// (<see cref="RunTreeFile.Read"/>): each node is visited once, and without recursion, since a tree of N prompts
    /// can be N deep.
    /// </summary>
    private sealed class TreeWriter
    {
        private readonly ReportRun _run;
        private readonly RunTreeFile _tree;
        private readonly StringBuilder _html;
        private readonly Dictionary<int, PlanSegment> _segments;
        private readonly Dictionary<int, PlanSegment> _finalOf = [];
        private readonly HashSet<int> _example = [];
        private bool _openAll;
        private readonly double?[] _meanScore;

        public TreeWriter(ReportRun run, RunTreeFile tree, StringBuilder html)
        {
            _run = run;
            _tree = tree;
            _html = html;
            _meanScore = MeanScores();
            _segments = tree.Segments.ToDictionary(s => s.Node);
            foreach (PlanSegment s in tree.Segments.Where(s => s.End == tree.Steps))
            {
                foreach (int member in s.Members)
                {
                    _finalOf[member] = s;
                }
            }

        }

        /// <summary>The whole tree, from the root.</summary>
        public void Whole() => Subtrees([_tree.Root]);

        /// <summary>The subtrees of a page, one after another, each opened as a run of its size opens.</summary>
        public void Subtrees(IEnumerable<int> roots)
        {
            foreach (int root in roots)
            {
                Example(root);
                Write(root, _ => false);
            }
        }

        /// <summary>The top of a paged tree: its nodes of more than a page's prompts; each smaller cluster below
        /// them a link to the page that shows it.</summary>
        public void Top(PageLayout layout, string version) => Write(_tree.Root, node =>
        {
            if (layout.PageOf(node) is not int page)
            {
                return false;
            }

            int count = _tree.Count(node);
            string steps = _segments.TryGetValue(node, out PlanSegment? s) ? $" · steps {s.Start}–{s.End}" : "";
            _html.Append($"<div class=\"leaf page-link\"><a href=\"{ReportPages.Folder}/{ReportPages.Name(version, page)}#node-{node}\">")
                .Append(node < _tree.Prompts ? $"#{node} {E(_run.Prompts[node].Text)}" : $"node {node} · {count} prompts{E(steps)}")
                .Append($"</a> <span class=\"meta\">page {page + 1} of {layout.Pages.Count}</span></div>\n");
            return true;
        });

        /// <summary>Opens one small cluster down the first branches of a large subtree, as an example of its leaves.</summary>
        private void Example(int root)
        {
            _example.Clear();
            _openAll = _tree.Count(root) <= OpenAllUpTo;
            int node = root;
            while (node >= _tree.Prompts && !_openAll)
            {
                TreeMerge merge = _tree.Tree[node - _tree.Prompts];
                if (merge.Count <= ExampleCluster)
                {
                    _example.UnionWith(_tree.Below(node));
                    break;
                }

                _example.Add(node);
                node = merge.Left;
            }
        }

        /// <summary>Writes a subtree, except what <paramref name="elsewhere"/> writes itself (and says so).</summary>
        private void Write(int root, Func<int, bool> elsewhere)
        {
            // Each entry is a node to open at a depth, or (node -1) the end of an open node.
            var stack = new Stack<(int Node, int Depth)>([(root, 0)]);
            while (stack.Count > 0)
            {
                (int node, int depth) = stack.Pop();
                if (node < 0)
                {
                    _html.Append("</details>\n");
                }
                else if (elsewhere(node))
                {
                    continue;
                }
                else if (node < _tree.Prompts)
                {
                    Prompt(node, depth == 0);
                }
                else
                {
                    TreeMerge merge = Open(node, depth);
                    stack.Push((-1, depth));
                    stack.Push((merge.Right, depth + 1));
                    stack.Push((merge.Left, depth + 1));
                }
            }
        }

        private void Prompt(int node, bool anchor)
        {
            ReportPrompt p = _run.Prompts[node];
            Leaf(_html, p, anchor, _finalOf.TryGetValue(node, out PlanSegment? last) && last.Node != node
                ? $"image shared with the {last.Members.Length} prompts of node {last.Node}"
                : _segments.TryGetValue(node, out PlanSegment? own) ? $"alone for steps {own.Start}–{own.End}" : "");
        }

        /// <summary>Writes a cluster's &lt;details&gt; and summary line, leaving it open for its children.</summary>
        private TreeMerge Open(int node, int depth)
        {
            TreeMerge merge = _tree.Tree[node - _tree.Prompts];
            string steps = _segments.TryGetValue(node, out PlanSegment? s) ? $"steps {s.Start}–{s.End}" : "no steps of its own";
            string id = depth == 0 ? $" id=\"node-{node}\"" : "";
            _html.Append(_openAll || depth < OpenDepth || _example.Contains(node) ? $"<details class=\"node\"{id} open>" : $"<details class=\"node\"{id}>").Append("<summary>");
            if (_run.NodeImages.ContainsKey(node))
            {
                _html.Append($"<span class=\"thumb\" data-img=\"n{node}\" title=\"this cluster's latent at step {s?.End}, decoded\"></span>");
            }

            _html.Append($"<b>node {node}</b> · {merge.Count} prompts · {E(steps)} · score {merge.Score.ToString("G4", C)}");
            if (_meanScore[node] is double mean)
            {
                _html.Append($" · eval <b class=\"score\">{mean.ToString("0.000", C)}</b>");
            }

            _html.Append("</summary>\n");
            return merge;
        }

        /// <summary>Each node's mean evaluation score over its prompts (null where one has none), children before
        /// parents: merge i only joins nodes made before it.</summary>
        private double?[] MeanScores()
        {
            var sums = new double?[_tree.Prompts + _tree.Tree.Count];
            for (int p = 0; p < _tree.Prompts; p++)
            {
                sums[p] = _run.Prompts[p].Score;
            }

            foreach (TreeMerge m in _tree.Tree)
            {
                sums[m.Node] = sums[m.Left] + sums[m.Right];
            }

            return sums.Select((sum, node) => sum / _tree.Count(node)).ToArray();
        }
    }

    /// <summary>The images of a page by key (prompt index, or "n" + node id). The default encoder escapes &lt; &gt;
    /// &amp;, so nothing in the blob can close its script element.</summary>
    private static string ImagesJson(ReportRun run, IEnumerable<int> prompts, IEnumerable<int> nodes)
    {
        var images = new Dictionary<string, string>();
        foreach (int p in prompts)
        {
            images[p.ToString(C)] = run.ImageUri(run.Prompts[p]);
        }

        foreach (int node in nodes)
        {
            images[$"n{node}"] = run.NodeImages[node];
        }

        return JsonSerializer.Serialize(images);
    }

    /// <summary>The CSP hash of the page's script: it runs, and a script smuggled in by a prompt would not.</summary>
    private static string ScriptHash() => "sha256-" + Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(ReportAssets.Script)));

    private static string E(string text) => WebUtility.HtmlEncode(text);

    /// <summary>A manifest field by dotted path, or null.</summary>
    private static JsonElement? Get(JsonElement root, string path)
    {
        JsonElement e = root;
        foreach (string part in path.Split('.'))
        {
            if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty(part, out e))
            {
                return null;
            }
        }

        return e;
    }

    private static string Text(JsonElement root, string path) => Get(root, path) switch
    {
        { ValueKind: JsonValueKind.String } e => e.GetString()!,
        { ValueKind: JsonValueKind.Number } e => e.GetRawText(),
        _ => "n/a",
    };

    private static string Number(JsonElement root, string path, string format) =>
        Get(root, path) is { ValueKind: JsonValueKind.Number } e ? e.GetDouble().ToString(format, C) : "n/a";
}
