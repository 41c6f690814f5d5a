using HierDiff.Core.Clustering;
using HierDiff.Core.Embeddings;
using HierDiff.Core.Planning;

namespace HierDiff.Core.Tests.Clustering;

public sealed class PromptTreeTests
{
    /// <summary>Groups of near neighbours around random directions, as prompt sets are (seeded).</summary>
    internal static EmbeddingMatrix Clustered(int rows, int dimensions, int groupSize, int seed, double spread = 0.3)
    {
        var random = new Random(seed);
        int groups = Math.Max(1, rows / groupSize);
        double[] centres = [.. Enumerable.Range(0, groups * dimensions).Select(_ => Gaussian(random))];
        var data = new double[rows * dimensions];
        for (int r = 0; r < rows; r++)
        {
            int g = random.Next(groups);
            for (int c = 0; c < dimensions; c++)
            {
                data[(r * dimensions) + c] = centres[(g * dimensions) + c] + (spread * Gaussian(random));
            }
        }

        return new EmbeddingMatrix(rows, dimensions, data, "synthetic");
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    [Fact]
    public void ClusterMoments_GiveTheMergeHeightOfEveryNodeOfScipysTree()
    {
        EmbeddingMatrix x = Clustered(80, 12, 8, seed: 3);
        Linkage tree = WardLinkage.FromEmbeddings(x);
        for (int node = tree.LeafCount; node < tree.NodeCount; node++)
        {
            LinkageRow row = tree.Row(node);
            double fromMoments = ClusterMoments.WardDistance(Moments(x, tree.Leaves(row.Left)), Moments(x, tree.Leaves(row.Right)));
            Assert.Equal(row.Height, fromMoments, 1e-9 * Math.Max(1, row.Height));
        }
    }

    [Fact]
    public void UpToMaxExact_TheTreeIsScipysExactly()
    {
        EmbeddingMatrix x = Clustered(300, 16, 10, seed: 4);
        PromptTree built = PromptTree.Build(x, maxExact: 300);
        Assert.False(built.Sharded);
        Assert.Empty(built.ShardRoots);
        Assert.Equal(WardLinkage.FromEmbeddings(x).Rows, built.Tree.Rows);
        Assert.Equal(new TreeSummary("exact", 300, 1, 300, 300, 0), built.Summary());
    }

    [Fact]
    public void AboveMaxExact_ShardsAreAtMostThatBig_CoverEveryPrompt_AndTheTreeIsTheSameTwice()
    {
        EmbeddingMatrix x = Clustered(600, 16, 10, seed: 5);
        PromptTree first = PromptTree.Build(x, maxExact: 100);
        PromptTree second = PromptTree.Build(x, maxExact: 100);
        Assert.True(first.Sharded);
        Assert.Equal(600, first.ShardSizes.Sum());
        Assert.Equal((int)Math.Ceiling(600 / (BalancedShards.Fill * 100)), first.ShardSizes.Count);
        Assert.All(first.ShardSizes, size => Assert.InRange(size, 30, 100));
        Assert.Equal(first.Tree.Rows, second.Tree.Rows);
        Assert.Equal(first.ShardSizes, second.ShardSizes);
        Assert.Equal(599, first.Tree.Rows.Count);
        Assert.Equal(600, first.Tree.Rows[^1].Count);
    }

    [Fact]
    public void EachShardKeepsItsExactTree_AndHeightsRiseTowardsTheRoot()
    {
        EmbeddingMatrix x = Clustered(500, 16, 10, seed: 6);
        PromptTree built = PromptTree.Build(x, maxExact: 120);
        Linkage tree = built.Tree;
        (int[] shardOf, int count) = BalancedShards.Assign(x, 120);
        for (int node = tree.LeafCount; node < tree.NodeCount; node++)
        {
            LinkageRow row = tree.Row(node);
            Assert.True(row.Height >= tree.Score(row.Left) && row.Height >= tree.Score(row.Right), $"node {node} is lower than a child");
        }

        // A shard's prompts form one subtree whose merge heights are those of the shard's own exact tree.
        for (int s = 0; s < count; s++)
        {
            int[] members = [.. Enumerable.Range(0, x.Rows).Where(i => shardOf[i] == s)];
            double[] own = [.. WardLinkage.FromEmbeddings(Rows(x, members)).Rows.Select(r => r.Height).Order()];
            int node = members[0];
            while (tree.Leaves(node).Length < members.Length)
            {
                node = tree.Parent(node);
            }

            Assert.Equal(members, tree.Leaves(node));
            Assert.Equal(node, built.ShardRoots[s]);
            Assert.Equal(own, Internal(tree, node).Select(n => tree.Row(n).Height).Order());
        }
    }

    /// <summary>Groups of 25 with noise 0.3, as the benchmark's synthetic embeddings. Looser groups lose more: their
    /// nearest neighbours in a shard lie farther than in the whole set (README, "Planning a million prompts").</summary>
    [Fact]
    public void AtTheSameTau_TheShardedPlanSavesWithinAPointOfTheExactOne()
    {
        EmbeddingMatrix x = Clustered(2_000, 32, 25, seed: 7, spread: 0.3);
        Linkage exact = WardLinkage.FromEmbeddings(x);
        Linkage sharded = PromptTree.Build(x, maxExact: 500).Tree;
        foreach (double tau in new[] { 0.25, 0.5, 1.0, 2.0 })
        {
            double a = HierarchicalPlan.Build(exact, tau, 40).Savings;
            double b = HierarchicalPlan.Build(sharded, tau, 40).Savings;
            Assert.True(Math.Abs(a - b) < 0.01, $"tau {tau}: exact saves {a:P2}, sharded {b:P2}");
        }
    }

    [Fact]
    public void AtTauZero_ThePlanIsStandardGeneration_ShardedOrNot()
    {
        EmbeddingMatrix x = Clustered(300, 8, 10, seed: 8);
        HierarchicalPlan plan = HierarchicalPlan.Build(PromptTree.Build(x, maxExact: 50).Tree, 0, 10);
        Assert.Equal(plan.StandardDenoiserCalls, plan.DenoiserCalls);
        Assert.All(plan.Segments, s => Assert.Equal((0, 10, -1, 1), (s.Start, s.End, s.Source, s.Members.Length)));
    }

    private static ClusterMoments Moments(EmbeddingMatrix x, int[] rows)
    {
        ClusterMoments m = ClusterMoments.Empty(x.Columns);
        foreach (int r in rows)
        {
            m.Add(x.Row(r));
        }

        return m;
    }

    private static EmbeddingMatrix Rows(EmbeddingMatrix x, int[] rows)
    {
        var data = new double[rows.Length * x.Columns];
        for (int r = 0; r < rows.Length; r++)
        {
            x.Row(rows[r]).CopyTo(data.AsSpan(r * x.Columns));
        }

        return new EmbeddingMatrix(rows.Length, x.Columns, data);
    }

    private static IEnumerable<int> Internal(Linkage tree, int node)
    {
        if (tree.IsLeaf(node))
        {
            yield break;
        }

        yield return node;
        foreach (int child in new[] { tree.Row(node).Left, tree.Row(node).Right })
        {
            foreach (int n in Internal(tree, child))
            {
                yield return n;
            }
        }
    }
}
