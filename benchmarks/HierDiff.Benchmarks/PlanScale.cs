using System.Diagnostics;
using HierDiff.Core.Clustering;
using HierDiff.Core.Embeddings;
using HierDiff.Core.Planning;
using HierDiff.Models;
using HierDiff.Models.Onnx;
using HierDiff.ShapesWorld.World;

namespace HierDiff.Benchmarks;

/// <summary>
/// Planning at scale: the tree (exact or sharded, <see cref="PromptTree"/>) and the step plan of N synthetic
/// embeddings, by phase, with the process's peak working set; and the sharded tree against the exact one on the
/// same embeddings at the same tau, side by side in one process.
/// </summary>
public static class PlanScale
{
    private static readonly double[] Taus = [0.25, 0.5, 1.0, 2.0];

    /// <summary><c>plan-scale N D MAX_EXACT</c>: one timed run.</summary>
    public static void Run(int n, int d, int maxExact)
    {
        var clock = Stopwatch.StartNew();
        EmbeddingMatrix x = SyntheticEmbeddings.Clustered(n, d, seed: 42);
        double make = clock.Elapsed.TotalSeconds;
        clock.Restart();
        PromptTree tree = PromptTree.Build(x, maxExact);
        double build = clock.Elapsed.TotalSeconds;
        long treePeak = Process.GetCurrentProcess().PeakWorkingSet64;
        clock.Restart();
        HierarchicalPlan plan = HierarchicalPlan.Build(tree.Tree, 1.0, 40);
        double planSeconds = clock.Elapsed.TotalSeconds;
        clock.Restart();
        double tau = TauSearch.SmallestTauForSavings(tree.Tree, 40, 0.5);
        double search = clock.Elapsed.TotalSeconds;
        TreeSummary s = tree.Summary();
        Console.WriteLine(
            $"N = {n:N0}, D = {d}, max-exact {maxExact:N0}: {s.Kind}, {s.Shards} shards of {s.SmallestShard:N0}-{s.LargestShard:N0}, {s.LiftedMerges} lifted; " +
            $"embeddings {make:0.0} s, tree {build:0.0} s, plan at tau 1 {planSeconds:0.0} s ({plan.Savings:P1} saved, {plan.Segments.Count:N0} segments), " +
            $"tau for 50 % {search:0.0} s (tau {tau:0.###}); total {make + build + planSeconds + search:0.0} s; " +
            $"peak working set {treePeak / 1e6:0} MB after the tree, {Process.GetCurrentProcess().PeakWorkingSet64 / 1e6:0} MB after the plan");
    }

    /// <summary><c>plan-compare N D SHARD</c> on synthetic embeddings, or <c>plan-compare-world N SHARD</c> on N
    /// shapes-world prompts encoded by the built-in model: the exact tree against shards of at most SHARD.</summary>
    public static void Compare(EmbeddingMatrix x, int shard, string what)
    {
        var clock = Stopwatch.StartNew();
        Linkage exact = PromptTree.Build(x, x.Rows).Tree;
        double exactSeconds = clock.Elapsed.TotalSeconds;
        clock.Restart();
        PromptTree sharded = PromptTree.Build(x, shard);
        double shardedSeconds = clock.Elapsed.TotalSeconds;
        TreeSummary s = sharded.Summary();
        Console.WriteLine($"{what}: exact tree {exactSeconds:0.0} s; {s.Shards} shards of {s.SmallestShard:N0}-{s.LargestShard:N0} {shardedSeconds:0.0} s ({s.LiftedMerges} lifted)");
        Console.WriteLine("| tau | exact savings | sharded savings | difference (points) |");
        Console.WriteLine("| ---: | ---: | ---: | ---: |");
        foreach (double tau in Taus)
        {
            double a = HierarchicalPlan.CountDenoiserCalls(exact, tau, 40);
            double b = HierarchicalPlan.CountDenoiserCalls(sharded.Tree, tau, 40);
            double standard = 40.0 * x.Rows;
            Console.WriteLine($"| {tau} | {1 - (a / standard):P2} | {1 - (b / standard):P2} | {100 * (a - b) / standard:+0.00;-0.00} |");
        }
    }

    /// <summary>N prompts of the shapes world (seeded), encoded by the built-in model's text encoder.</summary>
    public static EmbeddingMatrix World(int n)
    {
        var random = new Random(42);
        string[] prompts = [.. Enumerable.Range(0, n).Select(_ => PromptWriter.Write(PromptWriter.RandomDescription(random), random))];
        ITextToImageModel model = TextToImageModels.Load(BuiltInModel.Directory, OnnxDevice.Cpu);
        return PromptEncoding.ClusterMatrix(model.Encode(prompts), "shapes-world prompts");
    }
}
