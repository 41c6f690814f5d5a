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

    [Fact]
    public void EachBatchWaitsForTheBatchItsSourceIsIn()
    {
        HistorySchedule schedule = HistorySchedule.Build("run", Tree, [-1], 500, maxSubtreeCalls: 0);
        Assert.Empty(schedule.Subtrees);
        for (int i = 0; i < schedule.Batches.Count; i++)
        {
            ScheduledBatch scheduled = schedule.Batches[i];
            SegmentBatch batch = scheduled.Batch;
            if (batch.Source == -1)
            {
                Assert.Equal(-1, scheduled.After);
            }
            else
            {
                Assert.Contains(batch.Source, schedule.Batches[scheduled.After].Batch.Nodes);
                Assert.True(scheduled.After < i, "a batch is listed after the one it waits for");
            }
        }
    }

    [Fact]
    public void AHistoryOverItsLimitHandsTheBiggestSubtreesToSubOrchestrations()
    {
        // Tree under one more root, node 20 (steps 0-2): five activities without subtrees. With a limit of three,
        // everything below node 20 goes to a sub-orchestration, which starts once node 20's batch is done.
        SegmentSpec[] rooted = [new(20, 0, 2, -1), .. Tree.Select(s => s.Source == -1 ? s with { Start = 2, Source = 20 } : s)];
        Assert.Equal(5, HistorySchedule.Build("run", rooted, [-1], 500, maxSubtreeCalls: 0).Batches.Count);

        HistorySchedule schedule = HistorySchedule.Build("run", rooted, [-1], 3, maxSubtreeCalls: 0);
        ScheduledBatch only = Assert.Single(schedule.Batches);
        Assert.Equal([20], only.Batch.Nodes);
        DelegatedSubtrees away = Assert.Single(schedule.Subtrees);
        Assert.Equal([20], away.Sources);
        Assert.Equal(0, away.After);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(40)]
    public void TheFirstScheduleOfTheLargestStandardRunFitsADurableMessage(int steps)
    {
        // Standard generation of maxPrompts (infra's default, 100,000) prompts: every prompt is a root, so the run's
        // first schedule names them all. The Durable Task Scheduler takes at most 1 MiB a message.
        SegmentSpec[] standard = [.. Enumerable.Range(0, 100_000).Select(p => new SegmentSpec(p, 0, steps, -1))];
        HistorySchedule schedule = HistorySchedule.Build("cli-20261201-235959-0123abcd", standard, [-1], RunOrchestration.MaxActivitiesPerHistory - 1, 10_000);
        Assert.Equal(100_000, schedule.Batches.Sum(b => b.Batch.Nodes.Count));
        Assert.InRange(System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(schedule).Length, 1, 1 << 20);
    }

    /// <summary>The activities the orchestration calls for <see cref="Tree"/>, in the order it calls them.</summary>
    private static async Task<SegmentBatch[]> Batches(int maxSubtreeCalls)
    {
        var context = new ListingContext();
        await RunOrchestration.RunChildrenAsync(context, new SubtreeInput("run", [-1], MaxSubtreeCalls: maxSubtreeCalls));
        return [.. context.Batches];
    }

    private sealed class ListingContext : IRunContext
    {
        public List<SegmentBatch> Batches { get; } = [];

        public Task<TResult> CallActivityAsync<TResult>(string name, object input)
        {
            if (name == RunFunctions.Schedule)
            {
                var subtree = (SubtreeInput)input;
                return Task.FromResult((TResult)(object)HistorySchedule.Build(subtree.RunId, Tree, subtree.Sources, subtree.MaxActivities, subtree.MaxSubtreeCalls));
            }

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
