using HierDiff.Core.Planning;

namespace HierDiff.Pipeline.Orchestration;

/// <summary>A batch of segments one history runs, once the batch at <paramref name="After"/> (an index into
/// <see cref="HistorySchedule.Batches"/>; -1: at once) has handed over the trajectory it continues.</summary>
public sealed record ScheduledBatch(SegmentBatch Batch, int After);

/// <summary>Subtrees a history hands to a sub-orchestration, once the batch at <paramref name="After"/> is done:
/// everything below <paramref name="Sources"/> in <paramref name="Shard"/>. A sharded run's history hands each shard
/// to a shard orchestration of its own (<see cref="RunFunctions.ShardOrchestrator"/>), which also writes its manifest.</summary>
public sealed record DelegatedSubtrees(IReadOnlyList<int> Sources, int After, int Shard = -1, bool WholeShard = false);

/// <summary>
/// What one history (the run's orchestration, or a sub-orchestration) does with its part of the tree: the batches
/// it runs and the groups of subtrees it delegates. Worked out by an activity from plan.json
/// (<see cref="RunFunctions.Schedule"/>), so the segment list itself never passes through a Durable message (the
/// Durable Task Scheduler takes at most 1 MiB; 20,000 prompts make over 23,000 segments). Its size follows the
/// history's activities, which <see cref="Build"/> keeps within the limit.
/// </summary>
public sealed record HistorySchedule(IReadOnlyList<ScheduledBatch> Batches, IReadOnlyList<DelegatedSubtrees> Subtrees)
{
    /// <summary>
    /// Every segment below <paramref name="sources"/> (-1: the whole tree) in this history, except groups of subtrees
    /// that go to sub-orchestrations, biggest first, until this history's activities fit <paramref name="maxActivities"/>.
    /// A group holds nodes of one batch, so each still starts the moment its batch is done. Siblings whose subtrees
    /// need at most <paramref name="maxSubtreeCalls"/> denoiser calls are packed into activities that run them whole.
    /// </summary>
    /// <param name="shard">The shard these segments are of (-1: outside every shard).</param>
    /// <param name="shards">Of a sharded run's top history: each shard and the node its trajectory starts from (-1:
    /// fresh noise). Each goes to its own sub-orchestration once the batch of that node is done.</param>
    public static HistorySchedule Build(
        string runId, IReadOnlyList<SegmentSpec> segments, IReadOnlyList<int> sources, int maxActivities, int maxSubtreeCalls, int shard = -1,
        IReadOnlyList<(int Shard, int Source)>? shards = null)
    {
        ArgumentNullException.ThrowIfNull(sources);
        var tree = new BatchTree(runId, segments, maxSubtreeCalls, shard);
        SegmentBatch[] top = sources.SelectMany(tree.Batches).ToArray();
        long local = top.Sum(tree.ActivityCount);
        var groups = new Dictionary<SegmentBatch, List<int[]>>();
        var delegated = new HashSet<int>();
        while (local > maxActivities)
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
                if (group.Count > 0 && firstLevel + level > maxActivities / 2)
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

        // The batches in the order a history starts them: each before those that continue its nodes.
        var batches = new List<ScheduledBatch>();
        var subtrees = new List<DelegatedSubtrees>();
        var pending = new Queue<(SegmentBatch Batch, int After, bool Top)>(top.Select(b => (b, -1, true)));
        while (pending.Count > 0)
        {
            (SegmentBatch batch, int after, bool isTop) = pending.Dequeue();
            int index = batches.Count;
            batches.Add(new ScheduledBatch(batch, after));
            if (batch.Subtree)
            {
                continue;
            }

            foreach (int node in batch.Nodes.Where(n => !isTop || !delegated.Contains(n)))
            {
                foreach (SegmentBatch below in tree.Batches(node))
                {
                    pending.Enqueue((below, index, false));
                }
            }

            if (isTop)
            {
                subtrees.AddRange((groups.GetValueOrDefault(batch) ?? []).Select(g => new DelegatedSubtrees(g, index, shard)));
            }
        }

        foreach ((int s, int source) in shards ?? [])
        {
            // A shard starts when the batch that ends its source does (a top history runs no subtrees whole, so
            // every top node it hands on is one of its batches' nodes).
            int after = source < 0 ? -1 : batches.FindIndex(b => b.Batch.Nodes.Contains(source));
            if (source >= 0 && after < 0)
            {
                throw new InvalidOperationException($"shard {s} continues node {source}, which no batch of this history runs");
            }

            subtrees.Add(new DelegatedSubtrees([source], after, s, WholeShard: true));
        }

        return new HistorySchedule(batches, subtrees);
    }

    /// <summary>The segments of a run (or part of one) as a tree of batches, with what runs below each node.</summary>
    private sealed class BatchTree(string runId, IReadOnlyList<SegmentSpec> segments, int maxSubtreeCalls, int shard)
    {
        private readonly Dictionary<int, int> _activitiesBelow = [];
        private readonly Dictionary<int, SegmentBatch[]> _batches = [];

        private SegmentTree<SegmentSpec> Segments { get; } = new(segments, s => s.Node, s => s.Source, s => s.End - s.Start);

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
                    .Select(g => new SegmentBatch(runId, source, g.Key.Start, g.Key.End, [.. g.Select(s => s.Node).Order()], Shard: shard))];
                _batches[source] = batches;
            }

            return batches;
        }

        /// <summary>Siblings run with everything below them in one activity (End: the last of their ends).</summary>
        private SegmentBatch Subtrees(int source, List<SegmentSpec> siblings) =>
            new(runId, source, siblings.Min(s => s.Start), siblings.Max(s => s.End), [.. siblings.Select(s => s.Node).Order()], Subtree: true, Shard: shard);

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
