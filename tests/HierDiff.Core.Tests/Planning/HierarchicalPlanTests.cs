using HierDiff.Core.Clustering;
using HierDiff.Core.Embeddings;
using HierDiff.Core.Planning;

namespace HierDiff.Core.Tests.Planning;

public class HierarchicalPlanTests
{
    private static readonly double[] Taus = [0, 0.01, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 5, 100];

    public static TheoryData<string> Cases() => new() { "random-12x8", "blobs-200x64", "extra-nested-80x48", "extra-duplicates-30x16" };

    private static Linkage Tree(string name) =>
        WardLinkage.FromEmbeddings(EmbeddingFile.Read(TestPaths.Data("ward", name + ".npy")));

    [Theory]
    [MemberData(nameof(Cases))]
    public void EveryPromptIsServedByExactlyOneActiveClusterAtEveryStep(string name)
    {
        Linkage tree = Tree(name);
        foreach (double tau in Taus)
        {
            foreach (int k in new[] { 1, 2, 10, 40 })
            {
                HierarchicalPlan plan = HierarchicalPlan.Build(tree, tau, k);
                Dictionary<int, PlanSegment> byNode = plan.Segments.ToDictionary(s => s.Node);
                for (int step = 0; step < k; step++)
                {
                    var served = new int[tree.LeafCount];
                    foreach (int node in plan.ActivePerStep[step])
                    {
                        PlanSegment segment = byNode[node];
                        Assert.InRange(step, segment.Start, segment.End - 1);
                        foreach (int prompt in segment.Members)
                        {
                            served[prompt]++;
                        }
                    }

                    Assert.All(served, count => Assert.Equal(1, count));
                }

                Assert.Equal(plan.ActivePerStep.Sum(a => (long)a.Count), plan.DenoiserCalls);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void AChildStartsWhereItsAncestorEnded(string name)
    {
        Linkage tree = Tree(name);
        foreach (double tau in Taus)
        {
            HierarchicalPlan plan = HierarchicalPlan.Build(tree, tau, 40);
            Dictionary<int, PlanSegment> byNode = plan.Segments.ToDictionary(s => s.Node);
            foreach (PlanSegment segment in plan.Segments)
            {
                if (segment.Start == 0)
                {
                    Assert.Equal(-1, segment.Source);
                    continue;
                }

                PlanSegment source = byNode[segment.Source];
                Assert.Equal(segment.Start, source.End);
                Assert.True(IsAncestor(tree, segment.Source, segment.Node), $"{segment.Source} is not above {segment.Node}");
                Assert.Subset(new HashSet<int>(source.Members), new HashSet<int>(segment.Members));
            }

            // The last step's segments hold every prompt once: they are the images.
            Assert.Equal(Enumerable.Range(0, tree.LeafCount), plan.FinalSegments.SelectMany(s => s.Members).Order());
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void SavingsNeverFallAsTauRises(string name)
    {
        Linkage tree = Tree(name);
        foreach (int k in new[] { 10, 40 })
        {
            long previous = long.MaxValue;
            for (double tau = 0; tau <= 3; tau += 0.01)
            {
                long calls = HierarchicalPlan.CountDenoiserCalls(tree, tau, k);
                Assert.True(calls <= previous, $"K = {k}: {calls} calls at tau = {tau}, {previous} just below");
                previous = calls;
            }
        }
    }

    [Fact]
    public void TauZeroIsStandardGenerationWhenNoEmbeddingsCoincide()
    {
        Linkage tree = Tree("random-500x32");
        HierarchicalPlan plan = HierarchicalPlan.Build(tree, 0, 40);
        Assert.Equal(40L * 500, plan.DenoiserCalls);
        Assert.Equal(0, plan.Savings);
        Assert.All(plan.Segments, s =>
        {
            Assert.True(tree.IsLeaf(s.Node));
            Assert.Equal((0, 40, -1), (s.Start, s.End, s.Source));
            Assert.Equal([s.Node], s.Members);
        });
    }

    [Fact]
    public void TauAboveTheRootSharesEverythingButTheLastStep()
    {
        Linkage tree = Tree("random-12x8");
        HierarchicalPlan plan = HierarchicalPlan.Build(tree, 1000, 10);
        Assert.Equal([tree.Root], plan.ActivePerStep[0]);
        Assert.Equal(12, plan.ActivePerStep[^1].Count);
        Assert.Equal(9 + 12, plan.DenoiserCalls);
    }

    [Fact]
    public void ThresholdsAreNumpysLinspaceReversed()
    {
        Assert.Equal([1.0, 0.75, 0.5, 0.25, 0.0], HierarchicalPlan.ThresholdSchedule(1.0, 5));
        Assert.Equal([0.0], HierarchicalPlan.ThresholdSchedule(1.0, 1));
        double[] phi = HierarchicalPlan.ThresholdSchedule(0.7, 40);
        Assert.Equal(0.7, phi[0]);
        Assert.Equal(0.0, phi[^1]);
        Assert.Equal(38 * (0.7 / 39), phi[1]);
    }

    [Fact]
    public void OnePromptRunsAlone()
    {
        var x = new EmbeddingMatrix(1, 3, [1, 2, 3]);
        Linkage tree = WardLinkage.FromEmbeddings(x);
        HierarchicalPlan plan = HierarchicalPlan.Build(tree, 1, 40);
        PlanSegment only = Assert.Single(plan.Segments);
        Assert.Equal((0, 0, 40, -1), (only.Node, only.Start, only.End, only.Source));
        Assert.Equal(40, plan.DenoiserCalls);
        Assert.Equal(0, TauSearch.SmallestTauForSavings(tree, 40, 0));
    }

    [Fact]
    public void IdenticalEmbeddingsAreHandled()
    {
        double[] row = [0.3, -1.2, 0.5, 2.0, 0.1];
        var x = new EmbeddingMatrix(6, 5, Enumerable.Range(0, 6).SelectMany(_ => row).ToArray());
        Linkage tree = WardLinkage.FromEmbeddings(x);
        Assert.All(tree.Rows, r => Assert.InRange(r.Height, 0, 1e-12));
        HierarchicalPlan plan = HierarchicalPlan.Build(tree, 0.5, 10);
        Assert.Equal([tree.Root], plan.ActivePerStep[0]);
        Assert.All(plan.Segments, s => Assert.Equal(x.Row(0).ToArray(), x.MeanOf(s.Members)));
    }

    [Fact]
    public void ASegmentUsesTheNoiseOfItsLowestPromptAndTheMeanOfItsPrompts()
    {
        EmbeddingMatrix x = EmbeddingFile.Read(TestPaths.Data("ward", "random-12x8.npy"));
        HierarchicalPlan plan = HierarchicalPlan.Build(WardLinkage.FromEmbeddings(x), 1.0, 10);
        PlanSegment shared = plan.Segments.First(s => s.Members.Length > 1);
        Assert.Equal(shared.Members.Min(), shared.NoiseMember);
        double[] mean = x.MeanOf(shared.Members);
        for (int c = 0; c < x.Columns; c++)
        {
            Assert.Equal(shared.Members.Average(m => x.Row(m)[c]), mean[c], 1e-12);
        }
    }

    private static bool IsAncestor(Linkage tree, int ancestor, int node)
    {
        for (int n = tree.Parent(node); n >= 0; n = tree.Parent(n))
        {
            if (n == ancestor)
            {
                return true;
            }
        }

        return false;
    }
}
