using HierDiff.Pipeline.Orchestration;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;

namespace HierDiff.Functions.Functions;

/// <summary>The orchestrators: thin wrappers over <see cref="RunOrchestration"/>.</summary>
public static class RunOrchestratorFunctions
{
    public const string PostCallback = "PostCallback";

    [Function(RunFunctions.Orchestrator)]
    public static async Task<RunOutcome> RunOrchestrator([OrchestrationTrigger] TaskOrchestrationContext context)
    {
        RunInput input = context.GetInput<RunInput>()!;
        DateTime started = context.CurrentUtcDateTime;
        RunOutcome outcome = await RunOrchestration.RunAsync(
            new DurableRunContext(context), input, () => (context.CurrentUtcDateTime - started).TotalSeconds);
        if (input.CallbackUrl is not null)
        {
            await context.CallActivityAsync(PostCallback, new CallbackInput(input.CallbackUrl, outcome),
                TaskOptions.FromRetryPolicy(new RetryPolicy(3, TimeSpan.FromSeconds(10))));
        }

        return outcome;
    }

    [Function(RunFunctions.SubtreeOrchestrator)]
    public static Task<ActivityReport> SubtreeOrchestrator([OrchestrationTrigger] TaskOrchestrationContext context)
    {
        return RunOrchestration.RunChildrenAsync(new DurableRunContext(context), context.GetInput<SubtreeInput>()!);
    }
}

/// <summary>Where to report a finished run, and what to report.</summary>
public sealed record CallbackInput(string Url, RunOutcome Outcome);
