using BenchmarkDotNet.Attributes;
using HierDiff.Core.Planning;

namespace HierDiff.Benchmarks;

/// <summary>Tree building (cosine distances + Ward) and planning at prompt-set sizes users run. At 50,000 prompts the
/// condensed distance matrix alone is 10 GB: run it on a machine with 16 GB or more.</summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 1, iterationCount: 3)]
public class ClusteringBenchmarks
{
    private EmbeddingMatrix _embeddings = null!;
    private Linkage _tree = null!;

    [Params(1_000, 10_000, 50_000)]
    public int Prompts { get; set; }

    [Params(768)]
    public int Dimensions { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _embeddings = SyntheticEmbeddings.Clustered(Prompts, Dimensions, seed: 42);
        _tree = WardLinkage.FromEmbeddings(_embeddings);
    }

    [Benchmark(Description = "cosine distances + Ward linkage")]
    public Linkage Cluster() => WardLinkage.FromEmbeddings(_embeddings);

    [Benchmark(Description = "step plan, tau = 1, K = 40")]
    public HierarchicalPlan Plan() => HierarchicalPlan.Build(_tree, 1.0, 40);

    [Benchmark(Description = "tau search for 50 % savings, K = 40")]
    public double TargetSavings() => TauSearch.SmallestTauForSavings(_tree, 40, 0.5);
}
