using System.Diagnostics;
using HierDiff.Models;
using HierDiff.Models.Pipelines;
using HierDiff.Pipeline.Activities;
using HierDiff.Pipeline.Orchestration;
using HierDiff.Pipeline.Storage;

namespace HierDiff.Pipeline;

/// <summary>
/// The serverless pipeline on one machine: the same orchestration and activities as the Functions app, over a
/// local folder or blob storage, with the model loaded once in this process.
/// </summary>
/// <remarks>A cancelled <paramref name="cancellation"/> stops the run before its next activity (and the
/// <paramref name="onDenoised"/> callback may throw to stop it between model calls). <paramref name="onPrepared"/>
/// is told what PlanRun planned, before any segment runs.</remarks>
public sealed class LocalPipeline(
    IRunStore store, Func<ITextToImageModel> model, PipelineSettings? settings = null, Action<int>? onDenoised = null, CancellationToken cancellation = default,
    Action<PreparedRun>? onPrepared = null)
{
    private readonly RunActivities _activities = new(store, model, settings ?? new PipelineSettings()) { OnDenoised = onDenoised };

    public IRunStore Store => store;

    public Task<RunOutcome> RunAsync(RunInput input)
    {
        InProcessRunContext context = Context();
        var clock = Stopwatch.StartNew();
        return RunOrchestration.RunAsync(context, input, () => clock.Elapsed.TotalSeconds);
    }

    /// <summary>Only the run's preparation (read, encode, plan, condition), as the orchestration does it.</summary>
    public async Task<PreparedRun> PrepareAsync(RunInput input) => (await RunOrchestration.PrepareAsync(Context(), input)).Run;

    private InProcessRunContext Context()
    {
        var context = new InProcessRunContext(cancellation);
        return context
            .Register<RunInput, PromptChunks>(RunFunctions.Prepare, _activities.PrepareAsync)
            .Register<EncodeInput, EncodedChunk>(RunFunctions.Encode, _activities.EncodeAsync, oneAtATime: true)
            .Register<PlanInput, PromptShards>(RunFunctions.Shard, _activities.ShardAsync)
            .Register<ShardInput, ShardBuilt>(RunFunctions.TreeShard, _activities.TreeShardAsync, oneAtATime: true)
            .Register<PlanInput, PreparedRun>(RunFunctions.Plan, async plan =>
            {
                PreparedRun prepared = await _activities.PlanAsync(plan);
                onPrepared?.Invoke(prepared);
                return prepared;
            })
            .Register<ConditionInput, ConditionedClusters>(RunFunctions.Condition, _activities.ConditionAsync, oneAtATime: true)
            .Register<SubtreeInput, HistorySchedule>(RunFunctions.Schedule, _activities.ScheduleAsync)
            .Register<SegmentBatch, ActivityReport>(RunFunctions.Segments, _activities.RunSegmentsAsync)
            .Register<FinishShardInput, ManifestShard>(RunFunctions.FinishShard, _activities.FinishShardAsync)
            .Register<FinishInput, RunOutcome>(RunFunctions.Finish, _activities.FinishAsync)
            .Register<SubtreeInput, ActivityReport>(RunFunctions.SubtreeOrchestrator, s => RunOrchestration.RunChildrenAsync(context, s))
            .Register<SubtreeInput, ActivityReport>(RunFunctions.ShardOrchestrator, s => RunOrchestration.RunShardAsync(context, s));
    }
}
