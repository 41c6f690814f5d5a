using System.Text.Json;

namespace HierDiff.Pipeline.Orchestration;

/// <summary>
/// Hosts the run orchestration on one machine: activities and sub-orchestrations are plain calls, and every message
/// goes through JSON as it would between Durable Functions workers, so both hosts see the same inputs.
/// </summary>
public sealed class InProcessRunContext(CancellationToken cancellation = default) : IRunContext
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly Dictionary<string, Func<string, Task<string>>> _functions = [];

    /// <summary>Registers an activity or sub-orchestration under its name. <paramref name="oneAtATime"/>: calls of it
    /// wait for each other. In Azure each runs in a worker of its own; in one process, shards' distance matrices or
    /// chunks' encodings would otherwise all be held at once.</summary>
    public InProcessRunContext Register<TInput, TResult>(string name, Func<TInput, Task<TResult>> function, bool oneAtATime = false)
    {
        SemaphoreSlim? turn = oneAtATime ? new SemaphoreSlim(1) : null;
        _functions[name] = async json =>
        {
            if (turn is not null)
            {
                await turn.WaitAsync(cancellation);
            }

            try
            {
                return JsonSerializer.Serialize(await function(JsonSerializer.Deserialize<TInput>(json, Json)!), Json);
            }
            finally
            {
                turn?.Release();
            }
        };
        return this;
    }

    public Task<TResult> CallActivityAsync<TResult>(string name, object input) => CallAsync<TResult>(name, input);

    public Task<TResult> CallSubOrchestrationAsync<TResult>(string name, object input) => CallAsync<TResult>(name, input);

    /// <summary>The last progress the run reported.</summary>
    public RunProgress? Progress { get; private set; }

    public void SetProgress(RunProgress progress) => Progress = progress;

    private async Task<TResult> CallAsync<TResult>(string name, object input)
    {
        cancellation.ThrowIfCancellationRequested();
        string result = await _functions[name](JsonSerializer.Serialize(input, input.GetType(), Json));
        return JsonSerializer.Deserialize<TResult>(result, Json)!;
    }
}
