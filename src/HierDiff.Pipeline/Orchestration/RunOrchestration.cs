namespace HierDiff.Pipeline.Orchestration;

/// <summary>
/// A run as an orchestration: prepare (validate, encode, cluster, plan), then run the tree's segments, each batch
/// of siblings as soon as the segment it continues is done (not level by level), then finish (manifest).
/// The biggest subtrees go to sub-orchestrations so that no history holds more than about
/// <see cref="MaxActivitiesPerHistory"/> activities. Only small messages pass through; the data lives in the store.
/// </summary>
public static class RunOrchestration
{
    public const int MaxActivitiesPerHistory = 500;

    public static async Task<RunOutcome> RunAsync(IRunContext context, RunInput input, Func<double> clock, int maxActivitiesPerHistory = MaxActivitiesPerHistory)
    {
        double started = clock();
        PreparedRun prepared = await context.CallActivityAsync<PreparedRun>(RunFunctions.Prepare, input);
        if (prepared.Error is not null)
        {
            return new RunOutcome(input.RunId, false, prepared.Error, null);
        }

        // Prepare and finish are two of this history's activities.
        ActivityReport work = await RunChildrenAsync(context, new SubtreeInput(input.RunId, [-1], prepared.Segments, maxActivitiesPerHistory - 2));
        return await context.CallActivityAsync<RunOutcome>(RunFunctions.Finish, new FinishInput(input.RunId, work, clock() - started));
    }

    /// <summary>
    /// Runs every segment below <see cref="SubtreeInput.Sources"/> (-1: the whole tree) in this history, except
    /// groups of subtrees that go to sub-orchestrations, biggest first, until this history's activities fit the
    /// limit. A group holds nodes of one batch, so each still starts the moment its batch is done.
    /// </summary>
    public static async Task<ActivityReport> RunChildrenAsync(IRunContext context, SubtreeInput input)
    {
        ILookup<int, SegmentSpec> children = input.Segments.ToLookup(s => s.Source);
        var costs = new Dictionary<int, int>();
        SegmentBatch[] top = input.Sources.SelectMany(source => Batches(input.RunId, source, children)).ToArray();
        long local = top.Length + top.Sum(b => b.Nodes.Sum(n => ActivityCount(children, n, costs)));
        var groups = new Dictionary<SegmentBatch, List<int[]>>();
        var delegated = new HashSet<int>();
        while (local > input.MaxActivities)
        {
            // The batch with the most work still here; its nodes' subtrees go out together, in groups whose own
            // first level stays within half the limit.
            SegmentBatch? heaviest = top.MaxBy(b => b.Nodes.Where(n => !delegated.Contains(n)).Sum(n => costs[n]));
            int[] rest = heaviest is null ? [] : [.. heaviest.Nodes.Where(n => !delegated.Contains(n) && costs[n] > 0).OrderByDescending(n => costs[n]).ThenBy(n => n)];
            if (rest.Length == 0 || rest.Sum(n => costs[n]) < 2)
            {
                break;
            }

            var group = new List<int>();
            int firstLevel = 0;
            foreach (int node in rest)
            {
                int level = children[node].GroupBy(c => (c.Start, c.End)).Count();
                if (group.Count > 0 && firstLevel + level > input.MaxActivities / 2)
                {
                    break;
                }

                group.Add(node);
                firstLevel += level;
            }

            (groups.TryGetValue(heaviest!, out List<int[]>? list) ? list : groups[heaviest!] = []).Add([.. group]);
            delegated.UnionWith(group);
            local -= group.Sum(n => costs[n]) - 1;
        }

        ActivityReport[] reports = await Task.WhenAll(top.Select(b =>
            RunBatchAsync(context, input, b, children, delegated, groups.GetValueOrDefault(b) ?? [])));
        return reports.Aggregate(ActivityReport.Zero, (a, b) => a + b);
    }

    /// <summary>A batch, then what continues from its nodes: in this history, or in sub-orchestrations.</summary>
    private static async Task<ActivityReport> RunBatchAsync(
        IRunContext context, SubtreeInput input, SegmentBatch batch, ILookup<int, SegmentSpec> children, HashSet<int> delegated, List<int[]> groups)
    {
        ActivityReport report = await context.CallActivityAsync<ActivityReport>(RunFunctions.Segments, batch);
        IEnumerable<Task<ActivityReport>> here = batch.Nodes
            .Where(node => !delegated.Contains(node) && children[node].Any())
            .Select(node => RunBelowAsync(context, input, node, children));
        IEnumerable<Task<ActivityReport>> away = groups.Select(group => context.CallSubOrchestrationAsync<ActivityReport>(
            RunFunctions.SubtreeOrchestrator,
            new SubtreeInput(input.RunId, group, group.SelectMany(n => Subtree(children, n)).ToArray(), input.MaxActivities)));
        return (await Task.WhenAll(here.Concat(away))).Aggregate(report, (a, b) => a + b);
    }

    /// <summary>Everything below a node, in this history.</summary>
    private static async Task<ActivityReport> RunBelowAsync(IRunContext context, SubtreeInput input, int node, ILookup<int, SegmentSpec> children)
    {
        ActivityReport[] reports = await Task.WhenAll(
            Batches(input.RunId, node, children).Select(b => RunBatchAsync(context, input, b, children, [], [])));
        return reports.Aggregate(ActivityReport.Zero, (a, b) => a + b);
    }

    /// <summary>The children of a node, batched: siblings that run the same steps go into one activity.</summary>
    private static SegmentBatch[] Batches(string runId, int source, ILookup<int, SegmentSpec> children) =>
        children[source]
            .GroupBy(s => (s.Start, s.End))
            .OrderBy(g => g.Key)
            .Select(g => new SegmentBatch(runId, source, g.Key.Start, g.Key.End, g.Select(s => s.Node).Order().ToArray()))
            .ToArray();

    /// <summary>How many segment activities run below a node (a chain of segments is at most K deep).</summary>
    private static int ActivityCount(ILookup<int, SegmentSpec> children, int node, Dictionary<int, int> memo)
    {
        if (memo.TryGetValue(node, out int known))
        {
            return known;
        }

        int count = children[node].GroupBy(s => (s.Start, s.End)).Count() + children[node].Sum(c => ActivityCount(children, c.Node, memo));
        memo[node] = count;
        return count;
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
