using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using HierDiff.Core;
using HierDiff.Core.Prompts;
using HierDiff.Core.Runs;
using HierDiff.Models.Pipelines;
using Microsoft.DurableTask.Client;

namespace HierDiff.Functions;

/// <summary>A request to start a run over HTTP (snake_case JSON): inline prompts or a blob in the prompts container,
/// the options, and optionally a tune.json in the tunes container whose recommended savings target and split schedule
/// the run takes (as <c>generate --tune</c>).</summary>
public sealed record StartRunRequest(IReadOnlyList<string>? Prompts, string? PromptsBlob, GenerationOptions? Options, string? CallbackUrl, string? Tune = null);

/// <summary>Starts runs: one per uploaded prompt blob and ETag (Event Grid delivers at least once), or per HTTP request.</summary>
public sealed class RunStarter(IRunStore store, HierDiffSettings settings)
{
    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,

        // A misspelt option or a mode given as a number is refused, never silently ignored or cast.
        UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow,
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false) },
    };

    /// <summary>The run of an uploaded blob: its id comes from the blob's name and ETag, so a repeated event for
    /// the same upload finds the run already there and starts nothing. The name is not checked here: one that
    /// cannot be used fails the run in PrepareRun, with its reason in runs/{run}/error.json, where an exception
    /// here would only make Event Grid redeliver the event for a day.</summary>
    public async Task<string?> StartFromBlobAsync(DurableTaskClient client, string blobName, string etag)
    {
        string runId = RunIdFor(blobName, etag);
        OrchestrationMetadata? existing = await client.GetInstanceAsync(runId);
        if (existing is not null)
        {
            return null;
        }

        var input = new RunInput(runId, blobName, new GenerationOptions());
        await client.ScheduleNewOrchestrationInstanceAsync(RunFunctions.Orchestrator, input, new StartOrchestrationOptions(runId));
        return runId;
    }

    /// <summary>Validates an HTTP request, stores inline prompts, and schedules the run. Bad requests throw
    /// <see cref="HierDiffInputException"/> before anything is stored.</summary>
    public async Task<string> StartFromRequestAsync(DurableTaskClient client, StartRunRequest request)
    {
        if ((request.Prompts is null) == (request.PromptsBlob is null))
        {
            throw new HierDiffInputException("give exactly one of prompts (a list of strings) and prompts_blob (a blob in the prompts container)");
        }

        GenerationOptions options = request.Options ?? new GenerationOptions();
        if (request.Tune is not null)
        {
            TuneSetting.CheckOptionsLeaveItOpen(options);
            options = (await ReadTuneAsync(request.Tune)).ApplyTo(options);
        }

        options.Validate(request.Prompts?.Count, settings.Pipeline.Limits.MaxPromptLength);
        if (request.CallbackUrl is not null)
        {
            settings.Callbacks.Check(request.CallbackUrl);
        }

        // Inline prompts are checked as the prompt file they become, so a bad one is a 400 naming its element.
        byte[]? inline = request.Prompts is null ? null : JsonSerializer.SerializeToUtf8Bytes(request.Prompts);
        if (inline is not null)
        {
            PromptFileReader.Parse(inline, "prompts.json", settings.Pipeline.Limits);
        }

        string runId = "run-" + Guid.NewGuid().ToString("N");
        RunInput input;
        if (inline is not null)
        {
            string blob = $"{runId}/prompts.json";
            await store.WriteAsync(Containers.Runs, blob, inline);
            input = new RunInput(runId, blob, options, request.CallbackUrl, Containers.Runs);
        }
        else
        {
            input = new RunInput(runId, StoreNames.Check(request.PromptsBlob!, "prompts_blob"), options, request.CallbackUrl);
        }

        await client.ScheduleNewOrchestrationInstanceAsync(RunFunctions.Orchestrator, input, new StartOrchestrationOptions(runId));
        return runId;
    }

    /// <summary>A tune.json is a few kilobytes; this bounds what a request can make the app read.</summary>
    private const long MaxTuneBytes = 1L << 20;

    /// <summary>The recommendation of tunes/{name}; a missing, oversized or malformed file is a bad request naming it.</summary>
    private async Task<TuneSetting> ReadTuneAsync(string name)
    {
        string blob = StoreNames.Check(name, "tune");
        string shown = $"{Containers.Tunes}/{blob}";
        StoredBlob? properties = await store.PropertiesAsync(Containers.Tunes, blob);
        if (properties is null)
        {
            throw new HierDiffInputException($"tune: no blob {shown}; upload the tune.json that hierdiff tune wrote to the {Containers.Tunes} container");
        }

        if (properties.Size > MaxTuneBytes)
        {
            throw new HierDiffInputException($"tune: {shown} is {properties.Size:N0} bytes, more than a tune.json's limit of {MaxTuneBytes:N0}");
        }

        byte[] bytes = await store.ReadAsync(Containers.Tunes, blob)
            ?? throw new HierDiffInputException($"tune: {shown} was removed while it was read");
        return TuneSetting.ReadRecommendation(shown, bytes);
    }

    public static string RunIdFor(string blobName, string etag)
    {
        byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{blobName}\n{etag}"));
        return "blob-" + Convert.ToHexStringLower(hash.AsSpan(0, 12));
    }
}
