using HierDiff.Core.Clustering;
using HierDiff.Core.Runs;
using HierDiff.Models.Pipelines;

namespace HierDiff.Pipeline.Orchestration;

/// <summary>
/// A run as an orchestration: prepare (validate, encode, cluster, plan), then run the tree's segments, each batch
/// of siblings as soon as the segment it continues is done (not level by level), then finish (manifest).
/// Siblings whose subtrees are small are packed into activities of at most <see cref="PreparedRun.MaxSubtreeCalls"/>
/// denoiser calls that run them whole, in memory: dispatching and handing off costs more than such subtrees'
/// parallelism saves, and in one activity the sampler keeps every model call full.
/// The biggest subtrees go to sub-orchestrations so that no history holds more than about
/// <see cref="MaxActivitiesPerHistory"/> activities. A sharded run's history runs the top tree's segments and hands
/// each shard to a history of its own (<see cref="RunShardAsync"/>), which ends with the shard's manifest.
/// Only small messages pass through; the data lives in the store.
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
        var progress = new Progress(context, prepared.PromptCount, prepared.Shards);
        int budget = Math.Max(maxActivitiesPerHistory / 2, maxActivitiesPerHistory - preparing - 1);
        ActivityReport work = await RunChildrenAsync(
            context, new SubtreeInput(input.RunId, [-1], budget, prepared.MaxSubtreeCalls), progress);
        if (work.Error is not null)
        {
            // The activity that found it wrote error.json; retrying would find it again.
            return new RunOutcome(input.RunId, false, work.Error, null);
        }

        // A shard whose prompts all share a final segment of the top tree had nothing of its own to run: its manifest
        // is written now. (Only copies of one prompt split across shards at a merge height of exactly 0 do that.)
        HashSet<int> finished = [.. work.Shards.Select(s => s.Shard)];
        ManifestShard[] rest = await Task.WhenAll(Enumerable.Range(0, prepared.Shards).Where(s => !finished.Contains(s)).Select(s =>
            context.CallActivityAsync<ManifestShard>(RunFunctions.FinishShard, new FinishShardInput(input.RunId, s, ActivityReport.Zero))));
        progress.Add(0, rest.Length);
        work = work with { Shards = [.. work.Shards, .. rest] };

        return await context.CallActivityAsync<RunOutcome>(RunFunctions.Finish, new FinishInput(input.RunId, work, clock() - started));
    }

    /// <summary>
    /// Prepares a run in activities that each hold a bounded part of it: read the prompt file (into chunks), encode
    /// the chunks in parallel, build a sharded tree's shards in parallel, plan, then condition the tree's clusters, its parts in
    /// parallel and then what is above them. Returns the plan and how many activities that took.
    /// </summary>
    public static async Task<(PreparedRun Run, int Activities)> PrepareAsync(IRunContext context, RunInput input)
    {
        PromptChunks chunks = await context.CallActivityAsync<PromptChunks>(RunFunctions.Prepare, input);
        if (chunks.Error is not null)
        {
            return (PreparedRun.Failed(input.RunId, chunks.Error, input.Options.Steps), 1);
        }

        EncodedChunk[] encoded = await Task.WhenAll(Enumerable.Range(0, chunks.Chunks)
            .Select(c => context.CallActivityAsync<EncodedChunk>(RunFunctions.Encode, new EncodeInput(input.RunId, c))));
        var plan = new PlanInput(input, chunks, encoded.Sum(e => e.Seconds));
        int activities = 2 + chunks.Chunks;
        if (input.Options.Mode == GenerationMode.Hierarchical && PromptTree.IsShardedAt(chunks.PromptCount, input.Options.MaxExact))
        {
            // Each shard's tree in an activity of its own, in parallel; PlanRun joins them.
            PromptShards shards = await context.CallActivityAsync<PromptShards>(RunFunctions.Shard, plan);
            if (shards.Error is not null)
            {
                return (PreparedRun.Failed(input.RunId, shards.Error, input.Options.Steps), activities);
            }

            ShardBuilt[] built = await Task.WhenAll(Enumerable.Range(0, shards.Shards).Select(s =>
                context.CallActivityAsync<ShardBuilt>(RunFunctions.TreeShard, new ShardInput(input.RunId, s, chunks.PromptsPerChunk, shards.Width))));
            plan = plan with { Shards = shards.Shards, ShardSeconds = shards.Seconds + built.Sum(b => b.Seconds) };
            activities += 1 + shards.Shards;
        }

        PreparedRun prepared = await context.CallActivityAsync<PreparedRun>(RunFunctions.Plan, plan);
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
    /// Runs every segment below <see cref="SubtreeInput.Sources"/> (-1: the whole tree) that
    /// <see cref="HistorySchedule"/> keeps in this history, each batch as soon as the one it continues is done, and
    /// hands the rest to sub-orchestrations. The schedule comes from an activity, which reads the plan.
    /// </summary>
    public static async Task<ActivityReport> RunChildrenAsync(IRunContext context, SubtreeInput input, Progress? progress = null)
    {
        HistorySchedule schedule = await context.CallActivityAsync<HistorySchedule>(RunFunctions.Schedule, input);
        ILookup<int, int> batchesAfter = Enumerable.Range(0, schedule.Batches.Count).ToLookup(i => schedule.Batches[i].After);
        ILookup<int, DelegatedSubtrees> subtreesAfter = schedule.Subtrees.ToLookup(s => s.After);

        // A batch, then what continues from its nodes: in this history, or in sub-orchestrations.
        async Task<ActivityReport> RunAfterAsync(int done)
        {
            IEnumerable<Task<ActivityReport>> here = batchesAfter[done].Select(async i =>
            {
                ActivityReport report = await context.CallActivityAsync<ActivityReport>(RunFunctions.Segments, schedule.Batches[i].Batch);
                progress?.Add(report.Images);
                return report.Error is null ? report + await RunAfterAsync(i) : report;
            });
            IEnumerable<Task<ActivityReport>> away = subtreesAfter[done].Select(async group =>
            {
                ActivityReport below = await context.CallSubOrchestrationAsync<ActivityReport>(
                    group.WholeShard ? RunFunctions.ShardOrchestrator : RunFunctions.SubtreeOrchestrator,
                    input with { Sources = group.Sources, Shard = group.Shard });
                progress?.Add(below.Images, below.Shards.Count);
                return below;
            });
            return (await Task.WhenAll(here.Concat(away))).Aggregate(ActivityReport.Zero, (a, b) => a + b);
        }

        return await RunAfterAsync(-1);
    }

    /// <summary>
    /// Runs one shard of a sharded run as a history of its own: its segments (delegating within the shard as any
    /// history does), then its manifest. A shard that fails is reported failed in its manifest; the others go on.
    /// </summary>
    public static async Task<ActivityReport> RunShardAsync(IRunContext context, SubtreeInput input)
    {
        ActivityReport work = await RunChildrenAsync(context, input);
        ManifestShard outcome = await context.CallActivityAsync<ManifestShard>(RunFunctions.FinishShard, new FinishShardInput(input.RunId, input.Shard, work));
        return work with { Shards = [outcome] };
    }

    /// <summary>Images written so far, reported through the context as activities and sub-orchestrations finish.
    /// The orchestration's own code updates it, in the order its history records, so replays see the same.</summary>
    public sealed class Progress
    {
        private readonly IRunContext _context;
        private readonly long _total;
        private readonly int _shards;
        private readonly Lock _gate = new();
        private long _done;
        private int _shardsDone;

        public Progress(IRunContext context, long total, int shards = 0)
        {
            _context = context;
            _total = total;
            _shards = shards;
            context.SetProgress(new RunProgress(0, total, 0, shards));
        }

        public void Add(long images, int shards = 0)
        {
            if (images > 0 || shards > 0)
            {
                // Durable runs an orchestration's code on one thread; the in-process host resumes it on any, so the
                // count and the report it makes are taken together.
                lock (_gate)
                {
                    _done += images;
                    _shardsDone += shards;
                    _context.SetProgress(new RunProgress(_done, _total, _shardsDone, _shards));
                }
            }
        }
    }
}
