using System.Text.Json;
using HierDiff.Core.Clustering;
using HierDiff.Core.Planning;
using HierDiff.Pipeline.Activities;

namespace HierDiff.Cli.Report;

/// <summary>One merge of the Ward tree: node <see cref="Node"/> joins <see cref="Left"/> and <see cref="Right"/> at
/// height <see cref="Score"/>, serving <see cref="Count"/> prompts (node ids as scipy's: prompts 0..N-1, then N..2N-2).</summary>
public sealed record TreeMerge(int Node, int Left, int Right, double Score, int Count);

/// <summary>A node that ran steps [Start, End) of its own, continuing the latent of <see cref="Source"/> (-1: noise).</summary>
public sealed record TreeSegment(int Node, int Start, int End, int Source, int[] Members, double Score);

/// <summary>
/// <c>plan.json</c> in a run folder: the prompt tree and who denoised which steps, for <c>hierdiff report</c>'s
/// dendrogram. The pipeline's own plan (in the run store) has the segments but not the tree, so <c>generate</c>
/// rebuilds the tree from the prompt embeddings (cheap next to denoising) and checks it gives the same segments.
/// A standard run has no tree and one segment per prompt.
/// </summary>
public sealed record RunTreeFile(string Mode, double Tau, int Steps, int Prompts, IReadOnlyList<TreeMerge> Tree, IReadOnlyList<TreeSegment> Segments)
{
    public const string FileName = "plan.json";

    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>The tree file of a finished run, from the pipeline's plan and (hierarchical runs) the prompts' tree.</summary>
    public static RunTreeFile From(RunPlanFile plan, Linkage? tree)
    {
        int n = plan.Prompts.Count;
        string mode = plan.Options.Mode.ToString().ToLowerInvariant();
        if (tree is null)
        {
            return new RunTreeFile(mode, plan.Tau, plan.Options.Steps, n, [], SegmentsOf(plan, _ => 0));
        }

        // The rebuilt tree must be the one the pipeline planned with, or the scores would describe another run.
        HierarchicalPlan rebuilt = HierarchicalPlan.Build(tree, plan.Tau, plan.Options.Steps);
        bool same = rebuilt.Segments.Count == plan.Segments.Count
            && rebuilt.Segments.Zip(plan.Segments).All(p => p.First.Node == p.Second.Node && p.First.StartStep == p.Second.Start && p.First.EndStep == p.Second.End);
        if (!same)
        {
            throw new InvalidOperationException("the prompt tree rebuilt for plan.json does not give the run's segments");
        }

        TreeMerge[] merges = tree.Rows.Select((r, i) => new TreeMerge(n + i, r.Left, r.Right, r.Height, r.Count)).ToArray();
        return new RunTreeFile(mode, plan.Tau, plan.Options.Steps, n, merges, SegmentsOf(plan, tree.Score));
    }

    public byte[] ToBytes() => JsonSerializer.SerializeToUtf8Bytes(this, Json);

    public static RunTreeFile Parse(byte[] bytes) =>
        JsonSerializer.Deserialize<RunTreeFile>(bytes, Json) ?? throw new InvalidDataException("empty plan file");

    private static TreeSegment[] SegmentsOf(RunPlanFile plan, Func<int, double> score) =>
        plan.Segments.Select(s => new TreeSegment(s.Node, s.Start, s.End, s.Source, s.Members, score(s.Node))).ToArray();
}
