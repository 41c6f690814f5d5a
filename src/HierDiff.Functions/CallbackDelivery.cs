using System.Net.Http.Json;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using HierDiff.Core;
using HierDiff.Functions.Functions;

namespace HierDiff.Functions;

/// <summary>Where to report a finished run, and what to report.</summary>
public sealed record CallbackInput(string Url, RunOutcome Outcome);

/// <summary>One POST to a callback: delivered (a 2xx answer), or the HTTP status or error it got instead, and
/// whether trying again can help (not for a URL the policy refuses).</summary>
public sealed record CallbackAttempt(bool Delivered, int? HttpStatus, string? Error, bool Retryable);

/// <summary>What a run's manifest (or error.json) says about its callback: <c>delivered</c> or <c>failed</c>, after
/// how many attempts, with the last HTTP status or error.</summary>
public sealed record CallbackRecord(string Status, int Attempts, int? HttpStatus, string? Error);

/// <summary>Record a callback's result in the run's manifest, or in error.json for a failed run.</summary>
public sealed record RecordCallbackInput(string RunId, bool Succeeded, CallbackRecord Callback);

/// <summary>How often and how patiently a callback is tried: attempt n+1 waits FirstDelay x Backoff^(n-1), at most
/// MaxDelay, on a durable timer (the default: 6 attempts over about 5 minutes).</summary>
public sealed record CallbackRetry(int MaxAttempts, TimeSpan FirstDelay, double Backoff, TimeSpan MaxDelay)
{
    public static CallbackRetry Default { get; } = new(6, TimeSpan.FromSeconds(10), 2, TimeSpan.FromMinutes(2));

    public TimeSpan DelayAfter(int attempt) =>
        TimeSpan.FromTicks((long)Math.Min(MaxDelay.Ticks, FirstDelay.Ticks * Math.Pow(Backoff, attempt - 1)));
}

/// <summary>
/// Delivers a finished run's result to its callback URL. A callback that fails (non-2xx, timeout, refused
/// connection) is tried again with backoff and never fails the run: its images and manifest exist whatever the
/// receiver does. The outcome goes into the manifest as <c>callback</c>.
/// </summary>
public sealed class CallbackDelivery(IRunStore store, CallbackPolicy policy)
{
    // As PipelineManifest writes the manifest.
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>The orchestrator's part: attempts on durable timers, then the record. Deterministic, as
    /// orchestrator code must be: only activities and timers.</summary>
    public static async Task<CallbackRecord> DeliverAsync(TaskOrchestrationContext context, CallbackInput input, CallbackRetry retry)
    {
        CallbackAttempt attempt = new(false, null, "not attempted", true);
        int attempts = 0;
        while (attempts < retry.MaxAttempts && (attempts == 0 || attempt.Retryable))
        {
            if (attempts > 0)
            {
                await context.CreateTimer(context.CurrentUtcDateTime + retry.DelayAfter(attempts), CancellationToken.None);
            }

            attempts++;
            try
            {
                attempt = await context.CallActivityAsync<CallbackAttempt>(RunOrchestratorFunctions.PostCallback, input);
            }
            catch (TaskFailedException e)
            {
                // The activity itself failed (say, reading the manifest): one more failed attempt, not a failed run.
                attempt = new CallbackAttempt(false, null, e.FailureDetails.ErrorMessage, true);
            }

            if (attempt.Delivered)
            {
                break;
            }
        }

        var record = new CallbackRecord(attempt.Delivered ? "delivered" : "failed", attempts, attempt.HttpStatus, attempt.Delivered ? null : attempt.Error);
        await context.CallActivityAsync(RunOrchestratorFunctions.RecordCallback, new RecordCallbackInput(input.Outcome.RunId, input.Outcome.Succeeded, record),
            TaskOptions.FromRetryPolicy(new RetryPolicy(4, TimeSpan.FromSeconds(5), 2)));
        return record;
    }

    /// <summary>One POST of the manifest (or the failure), the URL checked again at connection time.</summary>
    public async Task<CallbackAttempt> PostAsync(CallbackInput input)
    {
        Uri uri;
        try
        {
            uri = policy.Check(input.Url);
        }
        catch (HierDiffInputException e)
        {
            return new CallbackAttempt(false, null, e.Message, Retryable: false);
        }

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

        try
        {
            using HttpClient client = policy.CreateClient();
            using HttpResponseMessage response = await client.PostAsJsonAsync(uri, body);
            return new CallbackAttempt(response.IsSuccessStatusCode, (int)response.StatusCode,
                response.IsSuccessStatusCode ? null : $"HTTP {(int)response.StatusCode} {response.ReasonPhrase}", true);
        }
        catch (TaskCanceledException)
        {
            return new CallbackAttempt(false, null, $"no answer within {policy.Timeout.TotalSeconds:0.#} s", true);
        }
        catch (HttpRequestException e)
        {
            return new CallbackAttempt(false, null, e.Message, true);
        }
    }

    /// <summary>Sets <c>callback</c> in the run's manifest (error.json for a failed run): one whole-blob write,
    /// the same bytes if run again.</summary>
    public async Task RecordAsync(RecordCallbackInput input)
    {
        string blob = input.Succeeded ? RunBlobs.Manifest(input.RunId) : RunBlobs.Error(input.RunId);
        byte[]? json = await store.ReadAsync(Containers.Runs, blob);
        JsonObject root = json is null ? new JsonObject { ["run_id"] = input.RunId } : JsonNode.Parse(json)!.AsObject();
        root["callback"] = JsonSerializer.SerializeToNode(input.Callback, Json);
        await store.WriteAsync(Containers.Runs, blob, JsonSerializer.SerializeToUtf8Bytes(root, Json));
    }
}
