namespace HierDiff.Functions.Functions;

/// <summary>
/// Registers the run's orchestrators and activities with a plain Durable Task registry, under the names the
/// Functions host finds on their [Function] attributes: for hosting the same code in-process (the Durable test
/// host of the integration tests and of the orchestration benchmark).
/// </summary>
public static class RunFunctionRegistry
{
    /// <param name="registry">The registry to add to.</param>
    /// <param name="functions">The activities.</param>
    /// <param name="segments">Runs a segment batch given the real activity (tests wrap it to inject failures).</param>
    /// <param name="callbackRetry">How callbacks are retried (tests shorten the waits).</param>
    public static DurableTaskRegistry AddRunFunctions(
        this DurableTaskRegistry registry,
        RunActivityFunctions functions,
        Func<SegmentBatch, Func<SegmentBatch, Task<ActivityReport>>, Task<ActivityReport>>? segments = null,
        CallbackRetry? callbackRetry = null)
    {
        segments ??= (batch, run) => run(batch);
        CallbackRetry retry = callbackRetry ?? CallbackRetry.Default;
        return registry
            .AddOrchestratorFunc<RunInput, RunOutcome>(RunFunctions.Orchestrator, (context, _) => RunOrchestratorFunctions.RunOrchestrator(context, retry))
            .AddOrchestratorFunc<SubtreeInput, ActivityReport>(RunFunctions.SubtreeOrchestrator, (context, _) => RunOrchestratorFunctions.SubtreeOrchestrator(context))
            .AddOrchestratorFunc<SubtreeInput, ActivityReport>(RunFunctions.ShardOrchestrator, (context, _) => RunOrchestratorFunctions.ShardOrchestrator(context))
            .AddActivityFunc<RunInput, PromptChunks>(RunFunctions.Prepare, (_, input) => functions.PrepareRun(input))
            .AddActivityFunc<EncodeInput, EncodedChunk>(RunFunctions.Encode, (_, input) => functions.EncodePrompts(input))
            .AddActivityFunc<PlanInput, PromptShards>(RunFunctions.Shard, (_, input) => functions.ShardPrompts(input))
            .AddActivityFunc<ShardInput, ShardBuilt>(RunFunctions.TreeShard, (_, input) => functions.TreeShard(input))
            .AddActivityFunc<PlanInput, PreparedRun>(RunFunctions.Plan, (_, input) => functions.PlanRun(input))
            .AddActivityFunc<ConditionInput, ConditionedClusters>(RunFunctions.Condition, (_, input) => functions.ConditionClusters(input))
            .AddActivityFunc<SubtreeInput, HistorySchedule>(RunFunctions.Schedule, (_, input) => functions.ScheduleSegments(input))
            .AddActivityFunc<SegmentBatch, ActivityReport>(RunFunctions.Segments, (_, batch) => segments(batch, functions.RunSegments))
            .AddActivityFunc<FinishShardInput, ManifestShard>(RunFunctions.FinishShard, (_, input) => functions.FinishShard(input))
            .AddActivityFunc<FinishInput, RunOutcome>(RunFunctions.Finish, (_, input) => functions.FinishRun(input))
            .AddActivityFunc<CallbackInput, CallbackAttempt>(RunOrchestratorFunctions.PostCallback, (_, input) => functions.PostCallback(input))
            .AddActivityFunc<RecordCallbackInput>(RunOrchestratorFunctions.RecordCallback, (_, input) => functions.RecordCallback(input));
    }
}
