using HierDiff.Core.Clustering;
using HierDiff.Core.Embeddings;
using HierDiff.Core.Sampling;

namespace HierDiff.Core.Tests.Sampling;

public class ClusterSumsTests
{
    private static readonly HashSet<int> None = [];

    private static float[][] Vectors(int count, int length, int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, length).Select(_ => (float)(random.NextDouble() - 0.5) * 3).ToArray())];
    }

    private static Linkage WardTree(float[][] vectors) =>
        WardLinkage.FromEmbeddings(new EmbeddingMatrix(vectors.Length, vectors[0].Length, [.. vectors.SelectMany(v => v.Select(x => (double)x))]));

    /// <summary>Each prompt merged into all before it: the deepest tree n prompts make.</summary>
    private static Linkage Chain(int n) =>
        new(n, [.. Enumerable.Range(0, n - 1).Select(i => new LinkageRow(i == 0 ? 0 : n + i - 1, i + 1, i + 1, i + 2))]);

    private static async Task<Dictionary<int, float[]>> MeansAsync(Linkage tree, int root, IReadOnlySet<int> stops, float[][] vectors, Func<int, ExactSum, ValueTask>? loadStop = null)
    {
        var means = new Dictionary<int, float[]>();
        int[] order = ClusterSums.PostOrder(tree, root, stops);
        await ClusterSums.WalkAsync(
            tree, order, stops, vectors[0].Length,
            (node, sum) =>
            {
                if (tree.IsLeaf(node))
                {
                    sum.Add(vectors[node]);
                    return ValueTask.CompletedTask;
                }

                return loadStop!(node, sum);
            },
            (node, sum) =>
            {
                means[node] = sum.Mean();
                return ValueTask.CompletedTask;
            });
        return means;
    }

    private static float[] DirectMean(Linkage tree, int node, float[][] vectors)
    {
        var sum = new ExactSum(vectors[0].Length);
        foreach (int leaf in tree.Leaves(node))
        {
            sum.Add(vectors[leaf]);
        }

        return sum.Mean();
    }

    [Fact]
    public async Task EveryClusterGetsTheMeanOfItsOwnPrompts()
    {
        float[][] vectors = Vectors(60, 9, seed: 2);
        Linkage tree = WardTree(vectors);
        Dictionary<int, float[]> means = await MeansAsync(tree, tree.Root, None, vectors);
        Assert.Equal(tree.NodeCount, means.Count);
        for (int node = 0; node < tree.NodeCount; node++)
        {
            Assert.Equal(DirectMean(tree, node, vectors), means[node]);
        }
    }

    [Fact]
    public async Task SubtreesSummedApartGiveTheTopTheSameBitsAsOneWalk()
    {
        float[][] vectors = Vectors(80, 6, seed: 4);
        Linkage tree = WardTree(vectors);
        Dictionary<int, float[]> whole = await MeansAsync(tree, tree.Root, None, vectors);

        // Two grandchildren of the root summed by "other activities", their sums stored as bytes.
        int[] parts = [tree.Row(tree.Row(tree.Root).Left).Left, tree.Row(tree.Root).Right];
        var stored = new Dictionary<int, byte[]>();
        foreach (int part in parts)
        {
            Dictionary<int, float[]> below = await MeansAsync(tree, part, None, vectors);
            Assert.All(below, m => Assert.Equal(whole[m.Key], m.Value));
            var sum = new ExactSum(6);
            foreach (int leaf in tree.Leaves(part))
            {
                sum.Add(vectors[leaf]);
            }

            stored[part] = sum.ToBytes();
        }

        HashSet<int> stops = [.. parts];
        Dictionary<int, float[]> top = await MeansAsync(tree, tree.Root, stops, vectors, (node, sum) =>
        {
            sum.Read(stored[node]);
            return ValueTask.CompletedTask;
        });
        Assert.Equal(whole[tree.Root], top[tree.Root]);
        Assert.All(top, m => Assert.Equal(whole[m.Key], m.Value));

        // The top walk never went below a stop.
        Assert.DoesNotContain(top.Keys, n => parts.Any(p => p != n && tree.Leaves(p).Contains(n)));
    }

    /// <summary>How many sums <see cref="ClusterSums.WalkAsync"/> holds at once over an order: one more per prompt
    /// or stop, one fewer per merge.</summary>
    private static int StackDepth(Linkage tree, int[] order, IReadOnlySet<int> stops)
    {
        int depth = 0, deepest = 0;
        foreach (int node in order)
        {
            depth += tree.IsLeaf(node) || stops.Contains(node) ? 1 : -1;
            deepest = Math.Max(deepest, depth);
        }

        return deepest;
    }

    [Theory]
    [InlineData(2_000, 2)]
    [InlineData(2, 2)]
    public void AChainOfAnyLengthHoldsTwoSums(int n, int depth)
    {
        Linkage chain = Chain(n);
        int[] order = ClusterSums.PostOrder(chain, chain.Root, None);
        Assert.Equal(chain.NodeCount, order.Length);
        Assert.Equal(depth, StackDepth(chain, order, None));
    }

    [Fact]
    public void AWardTreeHoldsAtMostLog2NPlusOneSums()
    {
        float[][] vectors = Vectors(500, 4, seed: 7);
        Linkage tree = WardTree(vectors);
        int[] order = ClusterSums.PostOrder(tree, tree.Root, None);
        Assert.Equal(tree.NodeCount, order.Length);
        Assert.InRange(StackDepth(tree, order, None), 2, (int)Math.Log2(500) + 1);
    }

    [Fact]
    public void PartsAreTheLargestSubtreesThatFitLeavingTinyOnesToTheTop()
    {
        // A chain of 100: the node of prompts 0..39 is the one part of at most 40; the 60 lone prompts above it
        // are left to the top.
        Linkage chain = Chain(100);
        Assert.Equal([100 + 38], ClusterSums.Parts(chain, 40));
        Assert.Equal([chain.Root], ClusterSums.Parts(chain, 100));

        Linkage tree = WardTree(Vectors(500, 4, seed: 9));
        int[] parts = ClusterSums.Parts(tree, 64);
        int[][] leaves = [.. parts.Select(tree.Leaves)];
        Assert.All(leaves, l => Assert.InRange(l.Length, 8, 64));
        Assert.Equal(leaves.Sum(l => l.Length), leaves.SelectMany(l => l).Distinct().Count());
        Assert.All(parts, p => Assert.True(tree.Row(tree.Parent(p)).Count > 64, $"part {p}'s parent fits too"));
    }
}
