using HierDiff.Core.Clustering;
using HierDiff.Core.Embeddings;
using HierDiff.Core.Planning;
using HierDiff.Core.Runs;

namespace HierDiff.Core.Tests.Planning;

/// <summary>The split schedule beyond the paper's: a shape G that bends phi's fall and L private steps at the end.
/// G = 1, L = 0 is the paper's schedule bit for bit; for every G and L each prompt is served once per step, the
/// calls are the flat clusters fcluster would give at each phi, and the last L + 1 steps are each prompt's own.</summary>
public class SplitScheduleTests
{
    private static readonly Linkage Blobs = Tree("blobs-200x64");

    private static Linkage Tree(string name) => WardLinkage.FromEmbeddings(EmbeddingFile.Read(TestPaths.Data("ward", name + ".npy")));

    public static TheoryData<double, int> Schedules() => new()
    {
        { 1.0, 0 }, { 0.5, 0 }, { 2.0, 0 }, { 3.0, 0 }, { 1.0, 4 }, { 0.5, 8 }, { 2.0, 12 }, { 1.0, 39 },
    };

    [Theory]
    [InlineData(0.0, 1)]
    [InlineData(0.7, 2)]
    [InlineData(1.0, 10)]
    [InlineData(2.5, 40)]
    public void TheDefaultIsThePapersLinspaceBitForBit(double tau, int steps)
    {
        double[] paper = HierarchicalPlan.ThresholdSchedule(tau, steps);
        double[] ours = SplitSchedule.Paper.Thresholds(tau, steps);
        Assert.Equal(paper.Select(BitConverter.DoubleToInt64Bits), ours.Select(BitConverter.DoubleToInt64Bits));
        Assert.Equal(
            HierarchicalPlan.Build(Blobs, tau, steps).Segments.Select(s => (s.Node, s.Start, s.End, s.Source)),
            HierarchicalPlan.Build(Blobs, tau, steps, new SplitSchedule(1.0, 0)).Segments.Select(s => (s.Node, s.Start, s.End, s.Source)));
    }

    [Theory]
    [MemberData(nameof(Schedules))]
    public void PhiFallsFromTauToZeroAndStaysZeroForThePrivateSteps(double shape, int privateSteps)
    {
        const int steps = 40;
        double[] phi = new SplitSchedule(shape, privateSteps).Thresholds(0.8, steps);
        Assert.Equal(steps, phi.Length);
        Assert.Equal(privateSteps == steps - 1 ? 0 : 0.8, phi[0]);
        Assert.All(phi.Skip(steps - privateSteps - 1), p => Assert.Equal(0, p));
        for (int k = 1; k < steps; k++)
        {
            Assert.True(phi[k] <= phi[k - 1], $"phi rises at step {k}");
        }

        // phi(k) = tau (1 - k / (K' - 1))^G.
        int falling = steps - privateSteps;
        if (falling > 2)
        {
            Assert.Equal(0.8 * Math.Pow(1 - (1.0 / (falling - 1)), shape), phi[1], 12);
        }
    }

    [Theory]
    [MemberData(nameof(Schedules))]
    public void EachStepsCallsAreTheFlatClustersFclusterGivesAtItsPhi(double shape, int privateSteps)
    {
        foreach (string name in new[] { "random-12x8", "blobs-200x64", "extra-duplicates-30x16" })
        {
            Linkage tree = Tree(name);
            var schedule = new SplitSchedule(shape, privateSteps);
            foreach (double tau in new[] { 0.05, 0.3, 1.0, 3.0 })
            {
                HierarchicalPlan plan = HierarchicalPlan.Build(tree, tau, 40, schedule);
                double[] phi = schedule.Thresholds(tau, 40);
                for (int k = 0; k < 40; k++)
                {
                    Assert.Equal(FlatClusters(tree, phi[k]), plan.ActivePerStep[k].Count);
                    var served = new int[tree.LeafCount];
                    foreach (PlanSegment s in plan.Segments.Where(s => s.Start <= k && k < s.End))
                    {
                        Array.ForEach(s.Members, m => served[m]++);
                    }

                    Assert.All(served, count => Assert.Equal(1, count));
                }

                Assert.Equal(plan.ActivePerStep.Sum(a => (long)a.Count), plan.DenoiserCalls);
                Assert.Equal(plan.DenoiserCalls, HierarchicalPlan.CountDenoiserCalls(tree, tau, 40, schedule));
            }
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    [InlineData(20)]
    public void EveryPromptRunsItsLastPrivateStepsOnItsOwnConditioning(int privateSteps)
    {
        HierarchicalPlan plan = HierarchicalPlan.Build(Blobs, 1e6, 40, new SplitSchedule(1.0, privateSteps));
        // Shared clusters (score above 0) end by step K - L - 1: the last L + 1 steps are the prompts' own.
        Assert.All(plan.Segments.Where(s => s.Score > 0), s => Assert.True(s.End <= 40 - privateSteps - 1, $"node {s.Node} runs to step {s.End}"));
        Assert.Equal(39 - privateSteps, plan.Segments.Where(s => s.Score > 0).Max(s => s.End));
    }

    [Fact]
    public void AtTheSameTauAShapeAboveOneSharesLessAndBelowOneMore()
    {
        double tau = TauSearch.SmallestTauForSavings(Blobs, 40, 0.5);
        long linear = HierarchicalPlan.CountDenoiserCalls(Blobs, tau, 40);
        Assert.True(HierarchicalPlan.CountDenoiserCalls(Blobs, tau, 40, new SplitSchedule(2.0)) > linear);
        Assert.True(HierarchicalPlan.CountDenoiserCalls(Blobs, tau, 40, new SplitSchedule(0.5)) < linear);
    }

    [Theory]
    [MemberData(nameof(Schedules))]
    public void TargetSavingsFindsTheSmallestTauForEveryShapeAndPrivateSteps(double shape, int privateSteps)
    {
        var schedule = new SplitSchedule(shape, privateSteps);
        // The most L allows for 200 distinct prompts: K - L - 1 shared steps, then L + 1 steps each.
        double most = 1 - ((40.0 - privateSteps - 1 + (200.0 * (privateSteps + 1))) / (40 * 200));
        if (most > 0)
        {
            double target = Math.Min(0.6, most * 0.9);
            double tau = TauSearch.SmallestTauForSavings(Blobs, 40, target, schedule);
            Assert.True(HierarchicalPlan.Build(Blobs, tau, 40, schedule).Savings >= target);
            Assert.True(HierarchicalPlan.Build(Blobs, tau * (1 - 1e-9), 40, schedule).Savings < target);
        }

        var e = Assert.Throws<HierDiffInputException>(() => TauSearch.SmallestTauForSavings(Blobs, 40, Math.Min(0.999, most + 0.001), schedule));
        Assert.Contains($"at most {most:0.####}", e.Message);
        if (privateSteps > 0)
        {
            Assert.Contains($"its own last {privateSteps + 1} steps (private steps {privateSteps})", e.Message);
        }
    }

    [Theory]
    [InlineData(0.0, 0, "--split-shape (options.split_shape): must be a number above 0 and at most 100 (1 is the paper's schedule), not 0")]
    [InlineData(double.NaN, 0, "--split-shape (options.split_shape): must be a number above 0")]
    [InlineData(1.0, 40, "--private-steps (options.private_steps): must be from 0 to 39 (fewer than the 40 steps), not 40")]
    [InlineData(1.0, -1, "--private-steps (options.private_steps): must be from 0 to 39")]
    public void BadSchedulesAreRefusedNamingTheOption(double shape, int privateSteps, string message)
    {
        var e = Assert.Throws<HierDiffInputException>(() => new GenerationOptions { SplitShape = shape, PrivateSteps = privateSteps }.Validate());
        Assert.StartsWith(message, e.Message);
    }

    /// <summary>fcluster(Z, phi, 'distance')'s cluster count, independently: merges at heights up to phi joined by
    /// union-find.</summary>
    private static int FlatClusters(Linkage tree, double phi)
    {
        int n = tree.LeafCount;
        var parent = Enumerable.Range(0, tree.NodeCount).ToArray();
        int Find(int x) => parent[x] == x ? x : parent[x] = Find(parent[x]);
        int clusters = n;
        for (int i = 0; i < n - 1; i++)
        {
            LinkageRow row = tree.Rows[i];
            if (row.Height <= phi)
            {
                parent[Find(row.Left)] = n + i;
                parent[Find(row.Right)] = n + i;
                clusters--;
            }
        }

        return clusters;
    }
}
