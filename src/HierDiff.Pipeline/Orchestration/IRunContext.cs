namespace HierDiff.Pipeline.Orchestration;

/// <summary>
/// What <see cref="RunOrchestration"/> needs from its host: calling activities and sub-orchestrations by name.
/// Durable Functions provides it in Azure; <see cref="InProcessRunContext"/> on one machine. The orchestration
/// code must stay deterministic (no clocks, no random numbers, no I/O): Durable replays it.
/// </summary>
public interface IRunContext
{
    Task<TResult> CallActivityAsync<TResult>(string name, object input);

    Task<TResult> CallSubOrchestrationAsync<TResult>(string name, object input);

    /// <summary>What a status query shows of the running run (Durable's custom status; nothing in process).</summary>
    void SetProgress(RunProgress progress);
}

/// <summary>Activity and orchestration names, shared by both hosts.</summary>
public static class RunFunctions
{
    public const string Orchestrator = "RunOrchestrator";
    public const string SubtreeOrchestrator = "SubtreeOrchestrator";
    public const string ShardOrchestrator = "ShardOrchestrator";
    public const string Prepare = "PrepareRun";
    public const string Encode = "EncodePrompts";
    public const string Shard = "ShardPrompts";
    public const string TreeShard = "TreeShard";
    public const string Plan = "PlanRun";
    public const string Condition = "ConditionClusters";
    public const string Schedule = "ScheduleSegments";
    public const string Segments = "RunSegments";
    public const string FinishShard = "FinishShard";
    public const string Finish = "FinishRun";
    public const string Fail = "FailRun";
}
