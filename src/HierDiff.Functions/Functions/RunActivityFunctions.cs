using Microsoft.Azure.Functions.Worker;

namespace HierDiff.Functions.Functions;

/// <summary>The activities: thin wrappers over <see cref="RunActivities"/>.</summary>
public sealed class RunActivityFunctions(RunActivities activities, IRunStore store, HierDiffSettings settings)
{
    [Function(RunFunctions.Prepare)]
    public Task<PromptChunks> PrepareRun([ActivityTrigger] RunInput input) => activities.PrepareAsync(input);

    [Function(RunFunctions.Encode)]
    public Task<EncodedChunk> EncodePrompts([ActivityTrigger] EncodeInput input) => activities.EncodeAsync(input);

    [Function(RunFunctions.Shard)]
    public Task<PromptShards> ShardPrompts([ActivityTrigger] PlanInput input) => activities.ShardAsync(input);

    [Function(RunFunctions.TreeShard)]
    public Task<ShardBuilt> TreeShard([ActivityTrigger] ShardInput input) => activities.TreeShardAsync(input);

    [Function(RunFunctions.Plan)]
    public Task<PreparedRun> PlanRun([ActivityTrigger] PlanInput input) => activities.PlanAsync(input);

    [Function(RunFunctions.Condition)]
    public Task<ConditionedClusters> ConditionClusters([ActivityTrigger] ConditionInput input) => activities.ConditionAsync(input);

    [Function(RunFunctions.Schedule)]
    public Task<HistorySchedule> ScheduleSegments([ActivityTrigger] SubtreeInput input) => activities.ScheduleAsync(input);

    [Function(RunFunctions.Segments)]
    public Task<ActivityReport> RunSegments([ActivityTrigger] SegmentBatch batch) => activities.RunSegmentsAsync(batch);

    [Function(RunFunctions.FinishShard)]
    public Task<ManifestShard> FinishShard([ActivityTrigger] FinishShardInput input) => activities.FinishShardAsync(input);

    [Function(RunFunctions.Finish)]
    public Task<RunOutcome> FinishRun([ActivityTrigger] FinishInput input) => activities.FinishAsync(input);

    /// <summary>One attempt to POST the manifest (or the failure) to the run's callback URL; never throws for a
    /// receiver's failure (the orchestrator retries).</summary>
    [Function(RunOrchestratorFunctions.PostCallback)]
    public Task<CallbackAttempt> PostCallback([ActivityTrigger] CallbackInput input) => new CallbackDelivery(store, settings.Callbacks).PostAsync(input);

    [Function(RunOrchestratorFunctions.RecordCallback)]
    public Task RecordCallback([ActivityTrigger] RecordCallbackInput input) => new CallbackDelivery(store, settings.Callbacks).RecordAsync(input);
}
