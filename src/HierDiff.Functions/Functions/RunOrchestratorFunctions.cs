using Microsoft.Azure.Functions.Worker;

namespace HierDiff.Functions.Functions;

/// <summary>The orchestrators: thin wrappers over <see cref="RunOrchestration"/>.</summary>
public static class RunOrchestratorFunctions
{
    public const string PostCallback = "PostCallback";
    public const string RecordCallback = "RecordCallback";

    [Function(RunFunctions.Orchestrator)]
    public static Task<RunOutcome> RunOrchestrator([OrchestrationTrigger] TaskOrchestrationContext context) =>
        RunOrchestrator(context, CallbackRetry.Default);

    /// <summary>The run, then its callback: tried until delivered or out of attempts, and recorded in the
    /// manifest. A callback that fails leaves the run as it ended.</summary>
    public static async Task<RunOutcome> RunOrchestrator(TaskOrchestrationContext context, CallbackRetry callbackRetry)
    {
        RunInput input = context.GetInput<RunInput>()!;
        DateTime started = context.CurrentUtcDateTime;
        RunOutcome outcome = await RunOrchestration.RunAsync(
            new DurableRunContext(context), input, () => (context.CurrentUtcDateTime - started).TotalSeconds);
        if (input.CallbackUrl is not null)
        {
            await CallbackDelivery.DeliverAsync(context, new CallbackInput(input.CallbackUrl, outcome), callbackRetry);
        }

        return outcome;
    }

    [Function(RunFunctions.SubtreeOrchestrator)]
    public static Task<ActivityReport> SubtreeOrchestrator([OrchestrationTrigger] TaskOrchestrationContext context)
    {
        return RunOrchestration.RunChildrenAsync(new DurableRunContext(context), context.GetInput<SubtreeInput>()!);
    }

    [Function(RunFunctions.ShardOrchestrator)]
    public static Task<ActivityReport> ShardOrchestrator([OrchestrationTrigger] TaskOrchestrationContext context)
    {
        return RunOrchestration.RunShardAsync(new DurableRunContext(context), context.GetInput<SubtreeInput>()!);
    }
}
