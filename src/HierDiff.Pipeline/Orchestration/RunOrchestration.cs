using HierDiff.Core.Planning;

namespace HierDiff.Pipeline.Orchestration;

/// <summary>
/// A run as an orchestration: prepare (validate, encode, cluster, plan), then run the tree's segments, each batch
/// of siblings as soon as the segment it continues is done (not level by level), then finish (manifest).
/// Siblings whose subtrees are small are packed into activities of at most <see cref="PreparedRun.MaxSubtreeCalls"/>
/// denoiser calls that run them whole, in memory: dispatching and handing off costs more than such subtrees'
/// parallelism saves, and in one activity the sampler keeps every model call full.
/// The biggest subtrees go to sub-orchestrations so that no history holds more than about
/// <see cref="MaxActivitiesPerHistory"/> activities. Only small messages pass through; the data lives in the store.
/// </summary>
public static class RunOrchestration
{
    public const int MaxActivitiesPerHistory = 500;

    public static async Task<RunOutcome> RunAsync(IRunContext context, RunInput input, Func<double> clock, int maxActivitiesPerHistory = MaxActivitiesPerHistory)
    {
        double started = clock();
        (PreparedRun prepared, int preparing) = await PrepareAsync(context, input);
        if (prepared.Error is not null)
        {
            return new RunOutcome(input.RunId, false, prepared.Error, null);
        }

        // Preparing and finishing are this history's activities too. Progress counts what this history sees
        // finish: its own activities one by one, a sub-orchestration's images when it ends.
        var progress = new Progress(context, prepared.PromptCount);
        int budget = Math.Max(maxActivitiesPerHistory / 2, maxActivitiesPerHistory - preparing - 1);
        ActivityReport work = await RunChildrenAsync(
            context, new SubtreeInput(input.RunId, [-1], prepared.Segments, budget, prepared.MaxSubtreeCalls), progress);
        if (work.Error is not null)
        {
            // The activity that found it wrote error.json; retrying would find it again.
            return new RunOutcome(input.RunId, false, work.Error, null);
        }

        return await context.CallActivityAsync<RunOutcome>(RunFunctions.Finish, new FinishInput(input.RunId, work, clock() - started));
    }

    /// <summary>
    /// Prepares a run in activities that each hold a bounded part of it: read the prompt file (into chunks), encode
    /// the chunks in parallel, plan from their cluster embeddings, then condition the tree's clusters, its parts in
    /// parallel and then what is above them. Returns the plan and how many activities that took.
    /// </summary>
    public static async Task<(PreparedRun Run, int Activities)> PrepareAsync(IRunContext context, RunInput input)
    {
        PromptChunks chunks = await context.CallActivityAsync<PromptChunks>(RunFunctions.Prepare, input);
        if (chunks.Error is not null)
        {
            return (new PreparedRun(input.RunId, chunks.Error, 0, input.Options.Steps, 0, "", 0, 0, []), 1);
        }

        EncodedChunk[] encoded = await Task.WhenAll(Enumerable.Range(0, chunks.Chunks)
            .Select(c => context.CallActivityAsync<EncodedChunk>(RunFunctions.Encode, new EncodeInput(input.RunId, c))));
        PreparedRun prepared = await context.CallActivityAsync<PreparedRun>(
            RunFunctions.Plan, new PlanInput(input, chunks, encoded.Sum(e => e.Seconds)));
        int activities = 2 + chunks.Chunks;
        if (prepared.Error is not null || prepared.ConditionParts.Count == 0)
        {
            return (prepared, activities);
        }

        IReadOnlyList<int> parts = prepared.ConditionParts;
        await Task.WhenAll(parts.Select(root =>
            context.CallActivityAsync<ConditionedClusters>(RunFunctions.Condition, new ConditionInput(input.RunId, root, []))));
        activities += parts.Count;
        if (parts is not [int only] || only != prepared.TreeRoot)
        {
            await context.CallActivityAsync<ConditionedClusters>(RunFunctions.Condition, new ConditionInput(input.RunId, prepared.TreeRoot, parts));
            activities++;
        }

        return (prepared, activities);
    }

    /// <summary>
    /// Runs every segment below <see cref="SubtreeInput.Sources"/> (-1: the whole tree) in this history, except
    /// groups of subtrees that go to sub-orchestrations, biggest first, until this history's activities fit the
    /// limit. A group holds nodes of one batch, so each still starts the moment its batch is done.
    /// </summary>
    public static async Task<ActivityReport> RunChildrenAsync(IRunContext context, SubtreeInput input, Progress? progress = null)
    {
        var tree = new BatchTree(input.RunId, input.Segments, input.MaxSubtreeCalls);
        SegmentBatch[] top = input.Sources.SelectMany(tree.Batches).ToArray();
        long local = top.Sum(tree.ActivityCount);
        var groups = new Dictionary<SegmentBatch, List<int[]>>();
        var delegated = new HashSet<int>();
        while (local > input.MaxActivities)
        {
            // The batch with the most work still here; its nodes' subtrees go out together, in groups whose own
            // first level stays within half the limit.
            SegmentBatch? heaviest = top.Where(b => !b.Subtree).MaxBy(b => b.Nodes.Where(n => !delegated.Contains(n)).Sum(tree.ActivitiesBelow));
            int[] rest = heaviest is null ? [] : [.. heaviest.Nodes.Where(n => !delegated.Contains(n) && tree.ActivitiesBelow(n) > 0).OrderByDescending(tree.ActivitiesBelow).ThenBy(n => n)];
            if (rest.Length == 0 || rest.Sum(tree.ActivitiesBelow) < 2)
            {
                break;
            }

            var group = new List<int>();
            int firstLevel = 0;
            foreach (int node in rest)
            {
                int level = tree.Batches(node).Length;
                if (group.Count > 0 && firstLevel + level > input.MaxActivities / 2)
                {
                    break;
                }

                group.Add(node);
                firstLevel += level;
            }

            (groups.TryGetValue(heaviest!, out List<int[]>? list) ? list : groups[heaviest!] = []).Add([.. group]);
            delegated.UnionWith(group);
            local -= group.Sum(tree.ActivitiesBelow) - 1;
        }

        ActivityReport[] reports = await Task.WhenAll(top.Select(b =>
            RunBatchAsync(context, input, tree, b, delegated, groups.GetValueOrDefault(b) ?? [], progress)));
        return reports.Aggregate(ActivityReport.Zero, (a, b) => a + b);
    }

    /// <summary>Images written so far, reported through the context as activities and sub-orchestrations finish.
    /// The orchestration's own code updates it, in the order its history records, so replays see the same.</summary>
    public sealed class Progress
    {
        private readonly IRunContext _context;
        private readonly long _total;
        private readonly Lock _gate = new();
        private long _done;

        public Progress(IRunContext context, long total)
        {
            _context = context;
            _total = total;
            context.SetProgress(new RunProgress(0, total));
        }

        public void Add(long images)
        {
            if (images > 0)
            {
                // Durable runs an orchestration's code on one thread; the in-process host resumes it on any, so the
                // count and the report it makes are taken together.
                lock (_gate)
                {
                    _done += images;
                    _context.SetProgress(new RunProgress(_done, _total));
                }
            }
        }
    }

    /// <summary>A batch, then what continues from its nodes: in this history, or in sub-orchestrations.</summary>
    private static async Task<ActivityReport> RunBatchAsync(
        IRunContext context, SubtreeInput input, BatchTree tree, SegmentBatch batch, HashSet<int> delegated, List<int[]> groups, Progress? progress)
    {
        ActivityReport report = await context.CallActivityAsync<ActivityReport>(RunFunctions.Segments, batch);
        progress?.Add(report.Images);
        if (batch.Subtree || report.Error is not null)
        {
            return report;
        }

        IEnumerable<Task<ActivityReport>> here = batch.Nodes
            .Where(node => !delegated.Contains(node))
            .Select(node => RunBelowAsync(context, input, tree, node, progress));

        // A sub-orchestration's segments node by node, each node's subtree whole: the same message as ever.
        IEnumerable<Task<ActivityReport>> away = groups.Select(async group =>
        {
            ActivityReport below = await context.CallSubOrchestrationAsync<ActivityReport>(
                RunFunctions.SubtreeOrchestrator,
                new SubtreeInput(input.RunId, group, group.SelectMany(node => tree.Segments.Below([node])).ToArray(), input.MaxActivities, input.MaxSubtreeCalls));
            progress?.Add(below.Images);
            return below;
        });
        return (await Task.WhenAll(here.Concat(away))).Aggregate(report, (a, b) => a + b);
    }

    /// <summary>Everything below a node, in this history.</summary>
    private static async Task<ActivityReport> RunBelowAsync(IRunContext context, SubtreeInput input, BatchTree tree, int node, Progress? progress)
    {
        ActivityReport[] reports = await Task.WhenAll(tree.Batches(node).Select(b => RunBatchAsync(context, input, tree, b, [], [], progress)));
        return reports.Aggregate(ActivityReport.Zero, (a, b) => a + b);
    }

    /// <summary>The segments of a run (or part of one) as a tree of batches, with what runs below each node.</summary>
    private sealed class BatchTree(string runId, IReadOnlyList<SegmentSpec> segments, int maxSubtreeCalls)
    {
        private readonly Dictionary<int, int> _activitiesBelow = [];
        private readonly Dictionary<int, SegmentBatch[]> _batches = [];

        public SegmentTree<SegmentSpec> Segments { get; } = new(segments, s => s.Node, s => s.Source, s => s.End - s.Start);

        /// <summary>The children of a node, batched. Those whose whole subtree needs at most maxSubtreeCalls
        /// denoiser calls are packed, by end step then node, into activities of at most that many calls that run
        /// their subtrees whole: in one activity the sampler fills each model call across all of them. The others
        /// go by step range: siblings that run the same steps are one activity, and what is below them continues
        /// in activities of its own.</summary>
        public SegmentBatch[] Batches(int source)
        {
            if (!_batches.TryGetValue(source, out SegmentBatch[]? batches))
            {
                long Calls(SegmentSpec s) => s.End - s.Start + Segments.CallsBelow(s.Node);
                SegmentSpec[] children = [.. Segments.Children(source).OrderBy(s => s.End).ThenBy(s => s.Node)];
                var packed = new List<SegmentBatch>();
                var pack = new List<SegmentSpec>();
                long packCalls = 0;
                foreach (SegmentSpec child in children.Where(s => Calls(s) <= maxSubtreeCalls))
                {
                    if (packCalls + Calls(child) > maxSubtreeCalls)
                    {
                        packed.Add(Subtrees(source, pack));
                        (pack, packCalls) = ([], 0);
                    }

                    pack.Add(child);
                    packCalls += Calls(child);
                }

                if (pack.Count > 0)
                {
                    packed.Add(Subtrees(source, pack));
                }

                batches = [.. packed, .. children
                    .Where(s => Calls(s) > maxSubtreeCalls)
                    .GroupBy(s => (s.Start, s.End))
                    .OrderBy(g => g.Key)
                    .Select(g => new SegmentBatch(runId, source, g.Key.Start, g.Key.End, [.. g.Select(s => s.Node).Order()]))];
                _batches[source] = batches;
            }

            return batches;
        }

        /// <summary>Siblings run with everything below them in one activity (End: the last of their ends).</summary>
        private SegmentBatch Subtrees(int source, List<SegmentSpec> siblings) =>
            new(runId, source, siblings.Min(s => s.Start), siblings.Max(s => s.End), [.. siblings.Select(s => s.Node).Order()], Subtree: true);

        /// <summary>The activities a batch takes: one, and, unless it runs its subtree, those below its nodes.</summary>
        public int ActivityCount(SegmentBatch batch) => batch.Subtree ? 1 : 1 + batch.Nodes.Sum(ActivitiesBelow);

        /// <summary>How many activities run below a node (a chain of segments is at most K deep).</summary>
        public int ActivitiesBelow(int node)
        {
            if (!_activitiesBelow.TryGetValue(node, out int count))
            {
                count = Batches(node).Sum(ActivityCount);
                _activitiesBelow[node] = count;
            }

            return count;
        }
    }
}
