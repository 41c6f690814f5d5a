using System.Net.Http.Json;
using System.Text.Json.Nodes;
using HierDiff.Pipeline.Activities;
using HierDiff.Pipeline.Orchestration;
using HierDiff.Pipeline.Storage;
using Microsoft.Azure.Functions.Worker;

namespace HierDiff.Functions.Functions;

/// <summary>The activities: thin wrappers over <see cref="RunActivities"/>.</summary>
public sealed class RunActivityFunctions(RunActivities activities, IRunStore store, HierDiffSettings settings)
{
    /// <summary>Prepares the run, unless its prompt file is too big to read: then the run fails with that reason.</summary>
    [Function(RunFunctions.Prepare)]
    public async Task<PreparedRun> PrepareRun([ActivityTrigger] RunInput input)
    {
        if (await PromptFileSize.ProblemAsync(store, input, settings.Pipeline.Limits.MaxFileBytes) is string tooBig)
        {
            await activities.FailAsync(StoreNames.CheckRunId(input.RunId), tooBig);
            return new PreparedRun(input.RunId, tooBig, 0, input.Options.Steps, 0, "", 0, 0, []);
        }

        return await activities.PrepareAsync(input);
    }

    [Function(RunFunctions.Segments)]
    public Task<ActivityReport> RunSegments([ActivityTrigger] SegmentBatch batch) => activities.RunSegmentsAsync(batch);

    [Function(RunFunctions.Finish)]
    public Task<RunOutcome> FinishRun([ActivityTrigger] FinishInput input) => activities.FinishAsync(input);

    /// <summary>POSTs the manifest (or the failure) to the run's callback URL, checked again at connection time.</summary>
    [Function(RunOrchestratorFunctions.PostCallback)]
    public async Task PostCallback([ActivityTrigger] CallbackInput input)
    {
        Uri uri = settings.Callbacks.Check(input.Url);
        var body = new JsonObject
        {
            ["run_id"] = input.Outcome.RunId,
            ["status"] = input.Outcome.Succeeded ? "succeeded" : "failed",
            ["error"] = input.Outcome.Error,
        };
        if (input.Outcome.Succeeded)
        {
            byte[]? manifest = await store.ReadAsync(Containers.Runs, RunBlobs.Manifest(input.Outcome.RunId));
            body["manifest"] = manifest is null ? null : JsonNode.Parse(manifest);
        }

        using HttpClient client = settings.Callbacks.CreateClient();
        using HttpResponseMessage response = await client.PostAsJsonAsync(uri, body);
        response.EnsureSuccessStatusCode();
    }
}
