using System.Net;
using System.Text.Json;
using Azure.Storage.Blobs;
using HierDiff.Core;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Http;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging;

namespace HierDiff.Functions.Functions;

/// <summary>
/// How runs start and report: a prompt file uploaded to the prompts container (Event Grid blob trigger), or
/// <c>POST /api/runs</c>, answered with 202 and a status URL that Logic Apps polls (<c>GET /api/runs/{id}</c>: 202
/// while running, with the images written of the total; 200 with the manifest or the failure when done). Both HTTP functions need a function key.
/// </summary>
public sealed class RunStartFunctions(RunStarter starter, IRunStore store, ILogger<RunStartFunctions> log)
{
    /// <summary>Starts the run of an uploaded prompt file. It binds a client, not the content: only the name and
    /// ETag are needed here, and PrepareRun checks the size before it reads the file. Nothing about the name can
    /// make this throw (a name that cannot be used fails the run instead), so Event Grid redelivers only for
    /// storage or Durable errors.</summary>
    [Function(nameof(StartFromBlob))]
    public async Task StartFromBlob(
        [BlobTrigger("prompts/{name}", Source = BlobTriggerSource.EventGrid, Connection = HierDiffSettings.StorageConnection)] BlobClient blob,
        [DurableClient] DurableTaskClient client,
        FunctionContext context)
    {
        // The ETag tells one upload of a name from the next; the trigger's metadata carries it.
        string? etag = context.BindingContext.BindingData.TryGetValue("Properties", out object? properties)
            && properties is string json && JsonDocument.Parse(json).RootElement.TryGetProperty("ETag", out JsonElement e)
            ? e.GetString() : null;
        string? runId = await starter.StartFromBlobAsync(client, blob.Name, etag ?? await TagAsync(blob.Name) ?? "");
        log.LogInformation(runId is null ? "prompts/{Name}: a run for this upload exists already" : "prompts/{Name}: started run {RunId}", blob.Name, runId);
    }

    /// <summary>The blob's ETag from the store; none for a name the store refuses (its run fails with the reason).</summary>
    private async Task<string?> TagAsync(string name)
    {
        try
        {
            return await store.TagAsync(Containers.Prompts, name);
        }
        catch (HierDiffInputException)
        {
            return null;
        }
    }

    [Function(nameof(StartRun))]
    public async Task<HttpResponseData> StartRun(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "runs")] HttpRequestData request,
        [DurableClient] DurableTaskClient client)
    {
        StartRunRequest? body;
        try
        {
            body = await JsonSerializer.DeserializeAsync<StartRunRequest>(request.Body, RunStarter.Json);
        }
        catch (JsonException e)
        {
            // The path names the field ("$.options.steps"); the message's own position details add nothing.
            string problem = e.Message.Split(" Path:", 2)[0].Split(" LineNumber:", 2)[0].Trim();
            return await Error(request, HttpStatusCode.BadRequest, $"invalid JSON at {e.Path ?? "$"}: {problem}");
        }

        try
        {
            string runId = await starter.StartFromRequestAsync(client, body ?? throw new HierDiffInputException("empty request"));
            HttpResponseData response = await Json(request, HttpStatusCode.Accepted, new { id = runId, status_url = StatusUrl(request, runId) });
            response.Headers.Add("Location", StatusUrl(request, runId));
            response.Headers.Add("Retry-After", "10");
            return response;
        }
        catch (HierDiffInputException e)
        {
            return await Error(request, HttpStatusCode.BadRequest, e.Message);
        }
    }

    [Function(nameof(GetRun))]
    public async Task<HttpResponseData> GetRun(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "runs/{id}")] HttpRequestData request,
        string id,
        [DurableClient] DurableTaskClient client)
    {
        try
        {
            StoreNames.CheckRunId(id);
        }
        catch (HierDiffInputException e)
        {
            return await Error(request, HttpStatusCode.BadRequest, e.Message);
        }

        OrchestrationMetadata? run = await client.GetInstanceAsync(id, getInputsAndOutputs: true);
        if (run is null)
        {
            return await Error(request, HttpStatusCode.NotFound, $"no run '{id}'");
        }

        switch (run.RuntimeStatus)
        {
            case OrchestrationRuntimeStatus.Completed:
                RunOutcome outcome = run.ReadOutputAs<RunOutcome>()!;
                if (!outcome.Succeeded)
                {
                    return await Json(request, HttpStatusCode.OK, new { id, status = "failed", error = outcome.Error });
                }

                byte[] manifest = await store.ReadAsync(Containers.Runs, RunBlobs.Manifest(id)) ?? [];
                HttpResponseData done = request.CreateResponse(HttpStatusCode.OK);
                done.Headers.Add("Content-Type", "application/json");
                await done.Body.WriteAsync(manifest);
                return done;
            case OrchestrationRuntimeStatus.Failed:
            case OrchestrationRuntimeStatus.Terminated:
                return await Json(request, HttpStatusCode.InternalServerError,
                    new { id, status = "failed", error = run.FailureDetails?.ErrorMessage ?? run.RuntimeStatus.ToString() });
            default:
                // While it runs: images written of the total (once planned), and a sharded run's shards done, from
                // the orchestration's custom status.
                RunProgress? progress = run.SerializedCustomStatus is null ? null : run.ReadCustomStatusAs<RunProgress>();
                HttpResponseData pending = await Json(request, HttpStatusCode.Accepted, new
                {
                    id,
                    status = run.RuntimeStatus.ToString().ToLowerInvariant(),
                    images_done = progress?.ImagesDone,
                    images_total = progress?.ImagesTotal,
                    shards_done = progress is { ShardsTotal: > 0 } ? progress.ShardsDone : (int?)null,
                    shards_total = progress is { ShardsTotal: > 0 } ? progress.ShardsTotal : (int?)null,
                });
                pending.Headers.Add("Location", StatusUrl(request, id));
                pending.Headers.Add("Retry-After", "10");
                return pending;
        }
    }

    private static string StatusUrl(HttpRequestData request, string id) =>
        new Uri(request.Url, $"/api/runs/{Uri.EscapeDataString(id)}").ToString();

    private static async Task<HttpResponseData> Json(HttpRequestData request, HttpStatusCode status, object body)
    {
        HttpResponseData response = request.CreateResponse(status);
        response.Headers.Add("Content-Type", "application/json");
        await response.Body.WriteAsync(JsonSerializer.SerializeToUtf8Bytes(body, RunStarter.Json));
        return response;
    }

    private static Task<HttpResponseData> Error(HttpRequestData request, HttpStatusCode status, string message) =>
        Json(request, status, new { error = message });
}
