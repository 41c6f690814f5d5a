namespace HierDiff.Pipeline.Tests;

/// <summary>How the orchestration cuts a tree into activities, on hand-made segment trees (no model runs).</summary>
public sealed class RunOrchestrationTests
{
    // Two roots that split at different steps, each into two leaves: 10 steps in all.
    //   node 10: steps 0-4 -> leaves 0, 1 (4-10);  node 11: steps 0-6 -> leaves 2, 3 (6-10)
    private static readonly SegmentSpec[] Tree =
    [
        new(10, 0, 4, -1), new(11, 0, 6, -1),
        new(0, 4, 10, 10), new(1, 4, 10, 10), new(2, 6, 10, 11), new(3, 6, 10, 11),
    ];

    [Fact]
    public async Task SiblingsThatRunDifferentStepsShareOneActivityWhenTheirSubtreesFit()
    {
        // 4 + 6 + 6 calls from node 10 down, 6 + 4 + 4 from node 11: 30 in all.
        SegmentBatch[] whole = await Batches(maxSubtreeCalls: 30);
        SegmentBatch only = Assert.Single(whole);
        Assert.True(only.Subtree);
        Assert.Equal([10, 11], only.Nodes);
        Assert.Equal((0, 6), (only.Start, only.End));
    }

    [Fact]
    public async Task SubtreesArePackedByEndStepUpToTheLimit()
    {
        // Each root's subtree fits (16 and 14 calls), both together do not: one activity each, the earlier end first.
        SegmentBatch[] packed = await Batches(maxSubtreeCalls: 20);
        Assert.Equal([[10], [11]], packed.Select(b => b.Nodes.ToArray()));
        Assert.All(packed, b => Assert.True(b.Subtree));
    }

    [Fact]
    public async Task WithoutSubtreesEverySiblingGroupOfOneStepRangeIsItsOwnActivity()
    {
        SegmentBatch[] batches = await Batches(maxSubtreeCalls: 0);
        Assert.Equal([(0, 4, 1), (0, 6, 1), (4, 10, 2), (6, 10, 2)], batches.Select(b => (b.Start, b.End, b.Nodes.Count)).Order());
        Assert.All(batches, b => Assert.False(b.Subtree));
    }

    /// <summary>The activities the orchestration calls for <see cref="Tree"/>, each answered with an empty report.</summary>
    private static async Task<SegmentBatch[]> Batches(int maxSubtreeCalls)
    {
        var context = new ListingContext();
        await RunOrchestration.RunChildrenAsync(context, new SubtreeInput("run", [-1], Tree, MaxSubtreeCalls: maxSubtreeCalls));
        return [.. context.Batches];
    }

    private sealed class ListingContext : IRunContext
    {
        public List<SegmentBatch> Batches { get; } = [];

        public Task<TResult> CallActivityAsync<TResult>(string name, object input)
        {
            Assert.Equal(RunFunctions.Segments, name);
            Batches.Add((SegmentBatch)input);
            return Task.FromResult((TResult)(object)ActivityReport.Zero);
        }

        public Task<TResult> CallSubOrchestrationAsync<TResult>(string name, object input) => throw new InvalidOperationException("no sub-orchestrations for six segments");

        public void SetProgress(RunProgress progress)
        {
        }
    }
}
