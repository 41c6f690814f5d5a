namespace HierDiff.Functions;

/// <summary>The run orchestration's host in Durable Functions: every activity and sub-orchestration with a retry
/// policy (activities are idempotent, so a retry writes the same bytes).</summary>
internal sealed class DurableRunContext(TaskOrchestrationContext context) : IRunContext
{
    private static readonly TaskOptions Retries = TaskOptions.FromRetryPolicy(new RetryPolicy(
        maxNumberOfAttempts: 4, firstRetryInterval: TimeSpan.FromSeconds(5), backoffCoefficient: 2, maxRetryInterval: TimeSpan.FromMinutes(1)));

    public Task<TResult> CallActivityAsync<TResult>(string name, object input) =>
        context.CallActivityAsync<TResult>(name, input, Retries);

    public Task<TResult> CallSubOrchestrationAsync<TResult>(string name, object input) =>
        context.CallSubOrchestratorAsync<TResult>(name, input, Retries);

    public void SetProgress(RunProgress progress) => context.SetCustomStatus(progress);
}
