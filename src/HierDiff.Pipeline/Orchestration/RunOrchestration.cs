namespace HierDiff.Pipeline.Orchestration;

/// <summary>
/// A run as an orchestration: prepare (validate, encode, cluster, plan), then run the tree's segments, each batch
/// of siblings as soon as the segment it continues is done (not level by level), then finish (manifest).
/// Subtrees with many segments go to sub-orchestrations so that no history holds more than about
/// <see cref="MaxActivitiesPerHistory"/> activities. Only small messages pass through; the data lives in the store.
/// </summary>
public static class RunOrchestration
{
    public const int MaxActivitiesPerHistory = 500;

    public static async Task<RunOutcome> RunAsync(IRunContext context, RunInput input, Func<double> clock)
    {
        double started = clock();
        PreparedRun prepared = await context.CallActivityAsync<PreparedRun>(RunFunctions.Prepare, input);
        if (prepared.Error is not null)
        {
            return new RunOutcome(input.RunId, false, prepared.Error, null);
        }

        ActivityReport work = await RunChildrenAsync(context, input.RunId, -1, prepared.Segments);
        return await context.CallActivityAsync<RunOutcome>(RunFunctions.Finish, new FinishInput(input.RunId, work, clock() - started));
    }

    /// <summary>Runs every segment below <paramref name="source"/> (-1: the whole tree).</summary>
    public static async Task<ActivityReport> RunChildrenAsync(IRunContext context, string runId, int source, IReadOnlyList<SegmentSpec> segments)
    {
        ILookup<int, SegmentSpec> children = segments.ToLookup(s => s.Source);
        IEnumerable<Task<ActivityReport>> batches = children[source]
            .GroupBy(s => (s.Start, s.End))
            .OrderBy(g => g.Key)
            .Select(g => RunBatchAsync(context, runId, new SegmentBatch(runId, source, g.Key.Start, g.Key.End, g.Select(s => s.Node).Order().ToArray()), children));
        ActivityReport[] reports = await Task.WhenAll(batches);
        return reports.Aggregate(ActivityReport.Zero, (a, b) => a + b);
    }

    private static async Task<ActivityReport> RunBatchAsync(IRunContext context, string runId, SegmentBatch batch, ILookup<int, SegmentSpec> children)
    {
        ActivityReport report = await context.CallActivityAsync<ActivityReport>(RunFunctions.Segments, batch);
        var below = new List<Task<ActivityReport>>();
        foreach (int node in batch.Nodes)
        {
            SegmentSpec[] subtree = Subtree(children, node);
            if (subtree.Length == 0)
            {
                continue;
            }

            below.Add(subtree.Length > MaxActivitiesPerHistory / 2
                ? context.CallSubOrchestrationAsync<ActivityReport>(RunFunctions.SubtreeOrchestrator, new SubtreeInput(runId, node, subtree))
                : RunChildrenAsync(context, runId, node, subtree));
        }

        return (await Task.WhenAll(below)).Aggregate(report, (a, b) => a + b);
    }

    /// <summary>Every segment that descends from <paramref name="node"/>, parents before children.</summary>
    private static SegmentSpec[] Subtree(ILookup<int, SegmentSpec> children, int node)
    {
        var result = new List<SegmentSpec>();
        var queue = new Queue<int>([node]);
        while (queue.Count > 0)
        {
            foreach (SegmentSpec child in children[queue.Dequeue()])
            {
                result.Add(child);
                queue.Enqueue(child.Node);
            }
        }

        return [.. result];
    }
}
