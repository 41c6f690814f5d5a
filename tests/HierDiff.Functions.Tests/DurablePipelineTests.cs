using System.Net;
using System.Text;
using System.Text.Json;
using Azure.Storage.Blobs;
using HierDiff.Core.Clustering;
using HierDiff.Core.Runs;
using HierDiff.Functions.Functions;
using HierDiff.Models;
using HierDiff.Models.Onnx;
using HierDiff.Models.Pipelines;
using HierDiff.Pipeline;
using HierDiff.TestModels;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.DurableTask.Testing;

namespace HierDiff.Functions.Tests;

/// <summary>
/// The Functions app's orchestrators and activities under the real Durable Task framework (in-process host), over
/// blob storage in Azurite (started by .ci/run on 127.0.0.1), on a tiny model in the real export layout.
/// </summary>
public sealed class DurablePipelineTests : IAsyncLifetime
{
    private static readonly string[] Prompts = ShapePrompts.FiveInThreeGroups;

    private readonly TempDirectory _temp = new("hierdiff-durable-");
    private readonly string _prefix = "t" + Guid.NewGuid().ToString("N")[..8];
    private StableDiffusionModel _model = null!;
    private BlobRunStore _store = null!;
    private int _segmentCalls;
    private int _failuresLeft;

    public Task InitializeAsync()
    {
        _model = StableDiffusionModel.Load(TinyStableDiffusion.Write(_temp.Sub("model")), OnnxDevice.Cpu);
        _store = new BlobRunStore(new BlobServiceClient("UseDevelopmentStorage=true"));
        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        _model.Dispose();
        _temp.Dispose();
        return Task.CompletedTask;
    }

    // Callbacks tried 3 times, 0.2 s then 0.4 s apart (the app: 6 times over about 5 minutes).
    private static readonly CallbackRetry QuickRetry = new(3, TimeSpan.FromSeconds(0.2), 2, TimeSpan.FromSeconds(1));

    private Task<DurableTaskTestHost> StartHost(PipelineSettings? pipeline = null, CallbackPolicy? callbacks = null, ITextToImageModel? model = null)
    {
        var settings = new HierDiffSettings(_model.Directory, OnnxDevice.Cpu, pipeline ?? new PipelineSettings(), callbacks ?? CallbackPolicy.FromSetting(null));
        var activities = new RunActivities(_store, () => model ?? _model, settings.Pipeline);
        var functions = new RunActivityFunctions(activities, _store, settings);
        return DurableTaskTestHost.StartAsync(registry => registry.AddRunFunctions(functions, (batch, run) =>
        {
            Interlocked.Increment(ref _segmentCalls);
            if (Interlocked.Decrement(ref _failuresLeft) >= 0)
            {
                throw new IOException("a worker lost its GPU");
            }

            return run(batch);
        }, QuickRetry), new DurableTaskTestHostOptions { Port = FreePort() });
    }

    /// <summary>A port nothing listens on now. The test host's own choice is random in 30000-40000, which overlaps
    /// Linux's ephemeral ports, so it sometimes lands on one in use.</summary>
    private static int FreePort()
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        int port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private async Task<string> Upload(string name, string text)
    {
        await _store.WriteAsync(Containers.Prompts, $"{_prefix}/{name}", Encoding.UTF8.GetBytes(text));
        return $"{_prefix}/{name}";
    }

    private async Task<RunOutcome> Complete(DurableTaskClient client, string runId, int minutes = 3)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(minutes));
        OrchestrationMetadata done = await client.WaitForInstanceCompletionAsync(runId, getInputsAndOutputs: true, timeout.Token);
        Assert.True(done.RuntimeStatus == OrchestrationRuntimeStatus.Completed, done.FailureDetails?.ErrorMessage);
        return done.ReadOutputAs<RunOutcome>()!;
    }

    [Fact]
    public async Task AnUploadedPromptFileBecomesImagesAndAManifestAndARepeatedEventStartsNothing()
    {
        await using DurableTaskTestHost host = await StartHost();
        var starter = new RunStarter(_store, new HierDiffSettings(_model.Directory, OnnxDevice.Cpu, new PipelineSettings(), CallbackPolicy.FromSetting(null)));
        string blob = await Upload("prompts.txt", string.Join('\n', Prompts));
        string etag = (await _store.TagAsync(Containers.Prompts, blob))!;

        string? runId = await starter.StartFromBlobAsync(host.Client, blob, etag);
        Assert.NotNull(runId);
        Assert.Null(await starter.StartFromBlobAsync(host.Client, blob, etag));

        RunOutcome outcome = await Complete(host.Client, runId!);
        Assert.True(outcome.Succeeded, outcome.Error);
        for (int i = 0; i < Prompts.Length; i++)
        {
            Assert.NotNull(await _store.ReadAsync(Containers.Images, RunBlobs.Image(runId!, i, Prompts.Length)));
        }

        Assert.NotNull(await _store.ReadAsync(Containers.Runs, RunBlobs.Manifest(runId!)));

        // The run's plan holds the prompt tree, so a run made in Azure can be drawn by hierdiff report.
        RunPlanFile plan = RunPlanFile.Parse((await _store.ReadAsync(Containers.Runs, RunBlobs.Plan(runId!)))!);
        Assert.Equal(Prompts.Length - 1, plan.Tree.Count);
        Assert.Equal(TauFrom.Default, plan.TauFrom);
        Assert.Equal(SchedulerFrom.Model, plan.SchedulerFrom);
        Assert.All(plan.Segments.Where(s => s.Node >= Prompts.Length), s => Assert.Equal(plan.Tree[s.Node - Prompts.Length].Score, s.Score));
        Assert.Contains("\"mode\":\"hierarchical\"", Encoding.UTF8.GetString((await _store.ReadAsync(Containers.Runs, RunBlobs.Plan(runId!)))!));
    }

    [Fact]
    public async Task FiveThousandPromptsInTwoStepsCompleteThroughTheDurableHost_WithAShardedTree()
    {
        await using DurableTaskTestHost host = await StartHost();
        string[] colours = ["red", "green", "blue", "yellow", "purple", "orange", "black", "white"];
        string[] kinds = ["circle", "square", "triangle"];
        string[] prompts = [.. Enumerable.Range(0, 5_000).Select(i => $"a {colours[i % 8]} {kinds[(i / 8) % 3]} number {i / 24}")];
        string blob = await Upload("five-thousand.txt", string.Join('\n', prompts));
        string runId = $"{_prefix}-5k";
        var options = new GenerationOptions { Steps = 2, TargetSavings = 0.4, MaxExact = 2_000 };
        await host.Client.ScheduleNewOrchestrationInstanceAsync(RunFunctions.Orchestrator, new RunInput(runId, blob, options), new StartOrchestrationOptions(runId));

        // Polled as Logic Apps polls it: 202 with the images written of the total, rising, until 200.
        RunStartFunctions functions = HttpFunctions();
        var seen = new List<(long Done, long Total)>();
        var shardsSeen = new List<(int Done, int Total)>();
        using (var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(15)))
        {
            while (true)
            {
                var status = (FakeHttpResponse)await functions.GetRun(new FakeHttpRequest("GET", $"https://app.example/api/runs/{runId}"), runId, host.Client);
                if (status.StatusCode == HttpStatusCode.OK)
                {
                    break;
                }

                Assert.Equal(HttpStatusCode.Accepted, status.StatusCode);
                JsonElement body = JsonDocument.Parse(status.Text).RootElement;
                if (body.GetProperty("images_total").ValueKind == JsonValueKind.Number)
                {
                    seen.Add((body.GetProperty("images_done").GetInt64(), body.GetProperty("images_total").GetInt64()));
                    shardsSeen.Add((body.GetProperty("shards_done").GetInt32(), body.GetProperty("shards_total").GetInt32()));
                }

                await Task.Delay(TimeSpan.FromSeconds(1), timeout.Token);
            }
        }

        Assert.NotEmpty(seen);
        Assert.All(seen, p => Assert.Equal(5_000, p.Total));
        Assert.Equal(seen.Select(p => p.Done).Order(), seen.Select(p => p.Done));
        Assert.True((await Complete(host.Client, runId)).Succeeded);

        // 5,000 prompts in shards of at most 2,000: four shards, each its own sub-orchestration and manifest.
        Assert.All(shardsSeen, p => Assert.Equal(4, p.Total));
        Assert.Equal(shardsSeen.Select(p => p.Done).Order(), shardsSeen.Select(p => p.Done));
        JsonElement manifest = JsonDocument.Parse(await _store.ReadAsync(Containers.Runs, RunBlobs.Manifest(runId)) ?? []).RootElement;
        Assert.Equal(0, manifest.GetProperty("prompts").GetArrayLength());
        Assert.True(manifest.GetProperty("savings").GetDouble() >= 0.4);
        Assert.Equal("sharded", manifest.GetProperty("tree").GetProperty("kind").GetString());
        JsonElement[] shards = [.. manifest.GetProperty("shards").EnumerateArray()];
        Assert.Equal(4, shards.Length);
        Assert.Equal(5_000, shards.Sum(s => s.GetProperty("images").GetInt64()));
        int listed = 0;
        foreach (JsonElement shard in shards)
        {
            Assert.Equal("succeeded", shard.GetProperty("status").GetString());
            var own = ShardManifestFile.Parse(await _store.ReadAsync(Containers.Runs, $"{runId}/{shard.GetProperty("manifest").GetString()}") ?? []);
            Assert.Equal(shard.GetProperty("prompts").GetInt32(), own.Prompts.Count);
            listed += own.Prompts.Count;
        }

        Assert.Equal(5_000, listed);
        foreach (int i in new[] { 0, 2_499, 4_999 })
        {
            Assert.NotNull(await _store.ReadAsync(Containers.Images, RunBlobs.Image(runId, i, prompts.Length)));
        }
    }

    [Fact]
    public async Task AnActivityThatFailsOnceIsRetriedAndTheImagesAreUnchanged()
    {
        await using DurableTaskTestHost host = await StartHost();
        string blob = await Upload("p.txt", string.Join('\n', Prompts));
        var options = new GenerationOptions { Steps = 5, Tau = 1.0 };

        string clean = $"{_prefix}-clean";
        await host.Client.ScheduleNewOrchestrationInstanceAsync(RunFunctions.Orchestrator, new RunInput(clean, blob, options), new StartOrchestrationOptions(clean));
        Assert.True((await Complete(host.Client, clean)).Succeeded);
        int cleanCalls = _segmentCalls;

        _failuresLeft = 1;
        string retried = $"{_prefix}-retried";
        await host.Client.ScheduleNewOrchestrationInstanceAsync(RunFunctions.Orchestrator, new RunInput(retried, blob, options), new StartOrchestrationOptions(retried));
        Assert.True((await Complete(host.Client, retried)).Succeeded);
        Assert.Equal(2 * cleanCalls + 1, _segmentCalls);

        for (int i = 0; i < Prompts.Length; i++)
        {
            Assert.Equal(
                await _store.ReadAsync(Containers.Images, RunBlobs.Image(clean, i, Prompts.Length)),
                await _store.ReadAsync(Containers.Images, RunBlobs.Image(retried, i, Prompts.Length)));
        }
    }

    [Theory]
    [InlineData("sd15", null)]
    [InlineData("sd2-768-v-euler", null)]
    [InlineData("sdxl", null)]
    [InlineData("kandinsky22", null)]
    [InlineData("kandinsky22", "paper")]
    [InlineData(BuiltInModel.KandinskyName, null)]
    [InlineData("sd15", null, 2)]
    public async Task TheCommandLinesHostMakesTheSamePngBytesAsTheFunctionsHost(string family, string? preset, int maxExact = PromptTree.DefaultMaxExact)
    {
        ITextToImageModel model = family switch
        {
            "sd15" => _model,
            BuiltInModel.KandinskyName => TextToImageModels.Load(BuiltInModel.KandinskyDirectory, OnnxDevice.Cpu),
            _ => TextToImageModels.Load(TinyExports.Write(family, _temp.Sub(family)), OnnxDevice.Cpu),
        };
        int size = family == BuiltInModel.KandinskyName ? 64 : TinyExports.ImageSize(family);
        // The sharded run's clusters are conditioned in parts of at most two prompts, then above them, on the
        // Functions host, and in one activity on the command line's: the exact sums make that no difference.
        PipelineSettings? settings = maxExact == PromptTree.DefaultMaxExact ? null : new PipelineSettings { PromptsPerConditioning = 2 };
        await using DurableTaskTestHost host = await StartHost(settings, model: model);
        string text = string.Join('\n', Prompts);
        string blob = await Upload($"same-{family}.txt", text);
        var options = new GenerationOptions { Steps = 5, TargetSavings = 0.5, Seed = 9, Preset = preset, MaxExact = maxExact };
        family += (preset is null ? "" : $"-{preset}") + (maxExact == PromptTree.DefaultMaxExact ? "" : $"-sharded{maxExact}");
        string durable = $"{_prefix}-durable-{family}";
        await host.Client.ScheduleNewOrchestrationInstanceAsync(RunFunctions.Orchestrator, new RunInput(durable, blob, options), new StartOrchestrationOptions(durable));
        Assert.True((await Complete(host.Client, durable)).Succeeded);

        // What `hierdiff generate` does: the same orchestration in-process, over a local folder.
        var local = new LocalRunStore(_temp.Sub($"cli-store-{family}"));
        await local.WriteAsync(Containers.Prompts, "same.txt", Encoding.UTF8.GetBytes(text));
        Assert.True((await new LocalPipeline(local, () => model).RunAsync(new RunInput("cli", "same.txt", options))).Succeeded);

        for (int i = 0; i < Prompts.Length; i++)
        {
            byte[]? png = await _store.ReadAsync(Containers.Images, RunBlobs.Image(durable, i, Prompts.Length));
            Assert.Equal(png, await local.ReadAsync(Containers.Images, RunBlobs.Image("cli", i, Prompts.Length)));
            Assert.Equal(size, PngFiles.Size(png!).Width);
        }

        if (settings is not null)
        {
            var runs = new BlobServiceClient("UseDevelopmentStorage=true").GetBlobContainerClient(Containers.Runs);
            Assert.NotEmpty(runs.GetBlobs(prefix: $"{durable}/conditioning/sums/"));
        }

        JsonElement tree = JsonDocument.Parse(await _store.ReadAsync(Containers.Runs, RunBlobs.Manifest(durable)) ?? []).RootElement.GetProperty("tree");
        Assert.Equal(maxExact < Prompts.Length ? "sharded" : "exact", tree.GetProperty("kind").GetString());
        Assert.Equal(maxExact, tree.GetProperty("max_exact").GetInt32());
    }

    [Fact]
    public async Task TheHttpApiAnswers202WithALocationThen200WithTheManifest()
    {
        await using DurableTaskTestHost host = await StartHost();
        RunStartFunctions functions = HttpFunctions();
        string body = JsonSerializer.Serialize(new { prompts = Prompts, options = new { steps = 4, tau = 1.0, preset = "paper", starting_latent = "per_prompt" } });

        var start = (FakeHttpResponse)await functions.StartRun(new FakeHttpRequest("POST", "https://app.example/api/runs", body), host.Client);
        Assert.Equal(HttpStatusCode.Accepted, start.StatusCode);
        string location = start.Header("Location")!;
        string id = JsonDocument.Parse(start.Text).RootElement.GetProperty("id").GetString()!;
        Assert.Equal($"https://app.example/api/runs/{id}", location);
        Assert.Equal(location, JsonDocument.Parse(start.Text).RootElement.GetProperty("status_url").GetString());

        Assert.True((await Complete(host.Client, id)).Succeeded);
        var done = (FakeHttpResponse)await functions.GetRun(new FakeHttpRequest("GET", location), id, host.Client);
        Assert.Equal(HttpStatusCode.OK, done.StatusCode);
        JsonElement manifest = JsonDocument.Parse(done.Text).RootElement;
        Assert.Equal(Prompts.Length, manifest.GetProperty("prompts").GetArrayLength());
        // The paper's preset: DDPM (4 steps, 4 calls), guidance 10; the starting latent given explicitly wins.
        Assert.Equal(4 * Prompts.Length, manifest.GetProperty("standard_denoiser_calls").GetInt32());
        Assert.Equal("paper", manifest.GetProperty("preset").GetString());
        Assert.Equal("ddpm", manifest.GetProperty("scheduler").GetString());
        Assert.Equal(10.0, manifest.GetProperty("guidance").GetDouble());
        Assert.Equal("per_prompt", manifest.GetProperty("starting_latent").GetString());
        Assert.True(manifest.GetProperty("gpu").GetProperty("model_busy_seconds").GetDouble() > 0);
    }

    /// <summary>A tune.json as hierdiff tune writes it (the fields a run reads; the rest as it leaves them).</summary>
    private static string TuneJson(object? recommended) => JsonSerializer.Serialize(new
    {
        model = "tiny-sd",
        evaluator = "shapes",
        steps = 4,
        min_win = 0.5,
        settings = Array.Empty<object>(),
        recommended,
        no_recommendation = recommended is null ? "no setting won at least 50% against standard; the best won 31%" : null,
    });

    [Fact]
    public async Task ARequestNamingATuneFileInTheTunesContainerRunsWithItsRecommendation()
    {
        await using DurableTaskTestHost host = await StartHost();
        string tune = $"{_prefix}/tune.json";
        await _store.WriteAsync(Containers.Tunes, tune, Encoding.UTF8.GetBytes(TuneJson(new { target_savings = 0.4, split_shape = 2.0, private_steps = 1 })));
        string body = JsonSerializer.Serialize(new { prompts = Prompts, tune, options = new { steps = 4 } });

        var start = (FakeHttpResponse)await HttpFunctions().StartRun(new FakeHttpRequest("POST", "https://app.example/api/runs", body), host.Client);
        Assert.Equal(HttpStatusCode.Accepted, start.StatusCode);
        string id = JsonDocument.Parse(start.Text).RootElement.GetProperty("id").GetString()!;
        Assert.True((await Complete(host.Client, id)).Succeeded);
        JsonElement manifest = JsonDocument.Parse(await _store.ReadAsync(Containers.Runs, RunBlobs.Manifest(id)) ?? []).RootElement;
        Assert.Equal(2.0, manifest.GetProperty("split_shape").GetDouble());
        Assert.Equal(1, manifest.GetProperty("private_steps").GetInt32());
        Assert.True(manifest.GetProperty("savings").GetDouble() >= 0.4);
    }

    [Theory]
    [InlineData("missing", "tune: no blob tunes/")]
    [InlineData("no recommendation", "recommends no setting (no setting won at least 50% against standard")]
    [InlineData("with tau", "--tune (tune) gives the savings target and split schedule")]
    [InlineData("bad setting", "recommended: --private-steps (options.private_steps): must be from 0 to 3")]
    [InlineData("outside", "tune '../tune.json' is not allowed")]
    public async Task ABadTuneFileIsRefusedWith400NamingIt(string what, string reason)
    {
        await using DurableTaskTestHost host = await StartHost();
        string tune = what == "outside" ? "../tune.json" : $"{_prefix}/{what.Replace(' ', '-')}.json";
        if (what != "missing" && what != "outside")
        {
            object? recommended = what switch
            {
                "no recommendation" => null,
                "bad setting" => new { target_savings = 0.4, split_shape = 1.0, private_steps = 9 },
                _ => new { target_savings = 0.4, split_shape = 1.0, private_steps = 0 },
            };
            await _store.WriteAsync(Containers.Tunes, tune, Encoding.UTF8.GetBytes(TuneJson(recommended)));
        }

        object options = what == "with tau" ? new { steps = 4, tau = 0.5 } : new { steps = 4 };
        string body = JsonSerializer.Serialize(new { prompts = Prompts, tune, options });
        var response = (FakeHttpResponse)await HttpFunctions().StartRun(new FakeHttpRequest("POST", "https://app.example/api/runs", body), host.Client);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(reason, JsonDocument.Parse(response.Text).RootElement.GetProperty("error").GetString());
    }

    [Theory]
    [InlineData("{\"prompts\": [\"a\"], \"prompts_blob\": \"p.txt\"}", "give exactly one of prompts")]
    [InlineData("{\"prompts\": [\"a\"], \"callback_url\": \"http://example.com/hook\"}", "must be an absolute https URL")]
    [InlineData("{\"prompts\": [\"a\"], \"callback_url\": \"https://169.254.169.254/x\"}", "loopback, private, link-local or reserved")]
    [InlineData("{\"prompts_blob\": \"../secrets.txt\"}", "prompts_blob '../secrets.txt' is not allowed")]
    [InlineData("{\"prompts\": [\"a\"], \"options\": {\"steps\": 0}}", "--steps (options.steps): must be from 1 to 1000, not 0")]
    [InlineData("{not json", "invalid JSON")]
    [InlineData("{\"prompts\": [\"a\"], \"options\": {\"tau\": 1e400}}", "options.tau")]
    [InlineData("{\"prompts\": [\"a\"], \"options\": {\"tau\": -1}}", "--tau (options.tau): must be a finite number of 0 or more, not -1")]
    [InlineData("{\"prompts\": [\"a\"], \"options\": {\"negative_prompt\": null}}", "--negative-prompt (options.negative_prompt): must be a string")]
    [InlineData("{\"prompts\": [\"a\"], \"options\": {\"mode\": 5}}", "options.mode")]
    [InlineData("{\"prompts\": [\"a\"], \"options\": {\"mode\": \"fast\"}}", "options.mode")]
    [InlineData("{\"prompts\": [\"a\"], \"options\": {\"steps\": 1000000}}", "--steps (options.steps): must be from 1 to 1000, not 1000000")]
    [InlineData("{\"prompts\": [\"a\"], \"options\": {\"steps\": \"40\"}}", "options.steps")]
    [InlineData("{\"prompts\": [\"a\"], \"options\": {\"stesp\": 40}}", "'stesp'")]
    [InlineData("{\"prompts\": [\"a\"], \"options\": {\"max_exact\": 1}}", "--max-exact (options.max_exact): must be from 2 to 30000 prompts")]
    [InlineData("{\"prompts\": [\"a\"], \"options\": {\"guidance\": 1e308}}", "--guidance (options.guidance): must be a number from 0 to 100")]
    [InlineData("{\"prompts\": [\"a\"], \"options\": {\"scheduler\": \"heun\"}}", "unknown scheduler 'heun'")]
    [InlineData("{\"prompts\": [\"a\"], \"options\": {\"preset\": \"papr\"}}", "--preset (options.preset): 'papr' is not a preset; use paper")]
    [InlineData("{\"prompts\": [\"a\"], \"options\": {\"starting_latent\": \"random\"}}", "options.starting_latent")]
    [InlineData("{\"prompts\": [\"a\"], \"options\": {\"starting_latent\": 1}}", "options.starting_latent")]
    [InlineData("{\"prompts\": [\"a\", \"b\", \"c\"], \"options\": {\"target_savings\": 0.7}}", "0.7 is out of reach: 3 prompts can save at most")]
    [InlineData("{\"prompts\": [\"a\", \"\\u200b\"]}", "prompts.json:1: the prompt is empty: it holds only invisible characters (U+200B)")]
    [InlineData("{\"prompts\": [\"a\"], \"prompts_typo\": 1}", "'prompts_typo'")]
    public async Task BadRequestsAreRefusedWith400AndTheReason(string body, string reason)
    {
        await using DurableTaskTestHost host = await StartHost();
        var response = (FakeHttpResponse)await HttpFunctions().StartRun(new FakeHttpRequest("POST", "https://app.example/api/runs", body), host.Client);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(reason, JsonDocument.Parse(response.Text).RootElement.GetProperty("error").GetString());
    }

    [Theory]
    [InlineData("run-unknown", HttpStatusCode.NotFound)]
    [InlineData("..", HttpStatusCode.BadRequest)]
    public async Task StatusOfNoSuchRunIsRefused(string id, HttpStatusCode expected)
    {
        await using DurableTaskTestHost host = await StartHost();
        var response = (FakeHttpResponse)await HttpFunctions().GetRun(new FakeHttpRequest("GET", "https://app.example/api/runs/x"), id, host.Client);
        Assert.Equal(expected, response.StatusCode);
    }

    private RunStartFunctions HttpFunctions(CallbackPolicy? callbacks = null) => new(
        new RunStarter(_store, new HierDiffSettings(_model.Directory, OnnxDevice.Cpu, new PipelineSettings(), callbacks ?? CallbackPolicy.FromSetting(null))),
        _store,
        Microsoft.Extensions.Logging.Abstractions.NullLogger<RunStartFunctions>.Instance);

    /// <summary>Calls the blob trigger as the host does for an Event Grid delivery: a client for the blob, and the
    /// blob's properties (its ETag) in the binding data.</summary>
    private async Task<string> Trigger(DurableTaskClient client, string blob, string? etag = null)
    {
        etag ??= await _store.TagAsync(Containers.Prompts, blob);
        var data = new Dictionary<string, object?>();
        if (etag is not null)
        {
            data["Properties"] = JsonSerializer.Serialize(new Dictionary<string, string> { ["ETag"] = etag });
        }

        BlobClient blobClient = new BlobServiceClient("UseDevelopmentStorage=true").GetBlobContainerClient(Containers.Prompts).GetBlobClient(blob);
        await HttpFunctions().StartFromBlob(blobClient, client, new FakeFunctionContext(data));
        return RunStarter.RunIdFor(blob, etag ?? "");
    }

    [Theory]
    [InlineData("prompts (1).txt")]
    [InlineData("café.txt")]
    [InlineData("prompts+v2.txt")]
    [InlineData("a,b.txt")]
    [InlineData("x'y.txt")]
    [InlineData("[draft] \"v2\" {b}.txt")]
    public async Task OrdinaryFileNamesStartRunsFromTheBlobTriggerAndFromHttp(string name)
    {
        await using DurableTaskTestHost host = await StartHost();
        string blob = await Upload(name, string.Join('\n', Prompts[..2]));

        string fromTrigger = await Trigger(host.Client, blob);
        RunOutcome outcome = await Complete(host.Client, fromTrigger);
        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.NotNull(await _store.ReadAsync(Containers.Images, RunBlobs.Image(fromTrigger, 1, 2)));

        string body = JsonSerializer.Serialize(new { prompts_blob = blob, options = new { steps = 2 } });
        var start = (FakeHttpResponse)await HttpFunctions().StartRun(new FakeHttpRequest("POST", "https://app.example/api/runs", body), host.Client);
        Assert.Equal(HttpStatusCode.Accepted, start.StatusCode);
        string fromHttp = JsonDocument.Parse(start.Text).RootElement.GetProperty("id").GetString()!;
        Assert.True((await Complete(host.Client, fromHttp)).Succeeded);
    }

    [Theory]
    [InlineData("a\\b.txt")]
    [InlineData("x\u0001y.txt")]
    [InlineData("..\u2025/x.txt")]
    [InlineData("50%25.txt")]
    [InlineData("trailing .txt ")]
    public async Task ABlobNameThatCannotBeUsedFailsItsRunInsteadOfThrowing(string name)
    {
        // No such blob can be uploaded through the store (it refuses the name), but Event Grid may still announce one.
        await using DurableTaskTestHost host = await StartHost();
        string run = await Trigger(host.Client, $"{_prefix}/{name}", etag: "\"0x8DC0FFEE\"");

        RunOutcome outcome = await Complete(host.Client, run);
        Assert.False(outcome.Succeeded);
        Assert.Contains("is not allowed", outcome.Error);
        Assert.Contains("is not allowed", Encoding.UTF8.GetString((await _store.ReadAsync(Containers.Runs, RunBlobs.Error(run)))!));
    }

    [Fact]
    public async Task AnOversizePromptFileFailsItsRunNamingTheLimitAndTheSettingBeforeAnythingReadsIt()
    {
        await using DurableTaskTestHost host = await StartHost(new PipelineSettings { Limits = new() { MaxFileBytes = 1024 } });
        string blob = await Upload("big.txt", string.Join('\n', Enumerable.Repeat(Prompts[0], 100)));

        string run = await Trigger(host.Client, blob);
        RunOutcome outcome = await Complete(host.Client, run);
        Assert.False(outcome.Succeeded);
        foreach (string reason in new[] { outcome.Error!, Encoding.UTF8.GetString((await _store.ReadAsync(Containers.Runs, RunBlobs.Error(run)))!) })
        {
            Assert.Contains("the limit is 1,024 bytes", reason);
            Assert.Contains("HierDiff__MaxPromptFileBytes", reason);
        }

        // Refused from the blob's size: Prepare never ran, so there is no plan.
        Assert.Null(await _store.ReadAsync(Containers.Runs, RunBlobs.Plan(run)));

        // The same file named in an HTTP request.
        var start = (FakeHttpResponse)await HttpFunctions().StartRun(
            new FakeHttpRequest("POST", "https://app.example/api/runs", JsonSerializer.Serialize(new { prompts_blob = blob })), host.Client);
        RunOutcome fromHttp = await Complete(host.Client, JsonDocument.Parse(start.Text).RootElement.GetProperty("id").GetString()!);
        Assert.False(fromHttp.Succeeded);
        Assert.Contains("HierDiff__MaxPromptFileBytes", fromHttp.Error);
    }

    [Fact]
    public void TheBlobTriggerBindsAClientNotTheBlobsContent()
    {
        System.Reflection.ParameterInfo trigger = typeof(RunStartFunctions).GetMethod(nameof(RunStartFunctions.StartFromBlob))!
            .GetParameters().Single(p => p.GetCustomAttributes(typeof(Microsoft.Azure.Functions.Worker.BlobTriggerAttribute), false).Length > 0);
        Assert.Equal(typeof(BlobClient), trigger.ParameterType);
    }

    /// <summary>Starts a run over HTTP with a callback, waits for it, and answers GET /api/runs/{id} as the app does.</summary>
    private async Task<(string Id, FakeHttpResponse Status)> RunWithCallback(CallbackServer server, CallbackPolicy policy, object body)
    {
        await using DurableTaskTestHost host = await StartHost(callbacks: policy);
        RunStartFunctions functions = HttpFunctions(policy);
        var start = (FakeHttpResponse)await functions.StartRun(new FakeHttpRequest("POST", "https://app.example/api/runs", JsonSerializer.Serialize(body)), host.Client);
        Assert.Equal(HttpStatusCode.Accepted, start.StatusCode);
        string id = JsonDocument.Parse(start.Text).RootElement.GetProperty("id").GetString()!;
        await Complete(host.Client, id);
        return (id, (FakeHttpResponse)await functions.GetRun(new FakeHttpRequest("GET", $"https://app.example/api/runs/{id}"), id, host.Client));
    }

    [Fact]
    public async Task ACallbackThatKeepsFailingIsRetriedAndTheRunStaysSucceededWithTheResultInItsManifest()
    {
        await using CallbackServer server = await CallbackServer.StartAsync(500);
        (_, FakeHttpResponse status) = await RunWithCallback(server, server.Policy(),
            new { prompts = Prompts[..2], options = new { steps = 2 }, callback_url = server.Url });

        Assert.Equal(HttpStatusCode.OK, status.StatusCode);
        JsonElement manifest = JsonDocument.Parse(status.Text).RootElement;
        Assert.Equal(2, manifest.GetProperty("prompts").GetArrayLength());
        JsonElement callback = manifest.GetProperty("callback");
        Assert.Equal("failed", callback.GetProperty("status").GetString());
        Assert.Equal(3, callback.GetProperty("attempts").GetInt32());
        Assert.Equal(500, callback.GetProperty("http_status").GetInt32());
        Assert.Contains("HTTP 500", callback.GetProperty("error").GetString());
        Assert.Equal(3, server.Bodies.Count);
    }

    [Fact]
    public async Task ACallbackThatRecoversIsDeliveredOnALaterAttemptWithTheManifest()
    {
        await using CallbackServer server = await CallbackServer.StartAsync(503, 502, 204);
        (string id, FakeHttpResponse status) = await RunWithCallback(server, server.Policy(),
            new { prompts = Prompts[..2], options = new { steps = 2 }, callback_url = server.Url });

        JsonElement callback = JsonDocument.Parse(status.Text).RootElement.GetProperty("callback");
        Assert.Equal("delivered", callback.GetProperty("status").GetString());
        Assert.Equal(3, callback.GetProperty("attempts").GetInt32());
        Assert.Equal(204, callback.GetProperty("http_status").GetInt32());
        JsonElement delivered = server.Bodies[^1];
        Assert.Equal(id, delivered.GetProperty("run_id").GetString());
        Assert.Equal("succeeded", delivered.GetProperty("status").GetString());
        Assert.Equal(2, delivered.GetProperty("manifest").GetProperty("prompts").GetArrayLength());
    }

    [Fact]
    public async Task ACallbackThatNeverAnswersTimesOutEachAttemptAndIsRecordedAsFailed()
    {
        await using CallbackServer server = await CallbackServer.StartAsync(0);
        (_, FakeHttpResponse status) = await RunWithCallback(server, server.Policy(timeout: TimeSpan.FromSeconds(1)),
            new { prompts = Prompts[..2], options = new { steps = 2 }, callback_url = server.Url });

        Assert.Equal(HttpStatusCode.OK, status.StatusCode);
        JsonElement callback = JsonDocument.Parse(status.Text).RootElement.GetProperty("callback");
        Assert.Equal("failed", callback.GetProperty("status").GetString());
        Assert.Equal(3, callback.GetProperty("attempts").GetInt32());
        Assert.Contains("no answer within 1 s", callback.GetProperty("error").GetString());
    }

    [Fact]
    public async Task AFailedRunReportsItsFailureToTheCallbackAndRecordsTheDeliveryInItsErrorFile()
    {
        await using CallbackServer server = await CallbackServer.StartAsync(200);
        (string id, FakeHttpResponse status) = await RunWithCallback(server, server.Policy(),
            new { prompts_blob = $"{_prefix}/missing.txt", callback_url = server.Url });

        Assert.Equal("failed", JsonDocument.Parse(status.Text).RootElement.GetProperty("status").GetString());
        Assert.Equal("failed", Assert.Single(server.Bodies).GetProperty("status").GetString());
        JsonElement error = JsonDocument.Parse((await _store.ReadAsync(Containers.Runs, RunBlobs.Error(id)))!).RootElement;
        Assert.Equal(id, error.GetProperty("run_id").GetString());
        Assert.Equal("delivered", error.GetProperty("callback").GetProperty("status").GetString());
        Assert.Equal(1, error.GetProperty("callback").GetProperty("attempts").GetInt32());
    }

    [Fact]
    public async Task ABadPromptFileFailsTheRunWithItsReasonAndLeavesTheBlob()
    {
        await using DurableTaskTestHost host = await StartHost();
        string blob = await Upload("bad.csv", "text\nno prompt column here\n");
        string run = $"{_prefix}-bad";
        await host.Client.ScheduleNewOrchestrationInstanceAsync(RunFunctions.Orchestrator, new RunInput(run, blob, new GenerationOptions()), new StartOrchestrationOptions(run));
        RunOutcome outcome = await Complete(host.Client, run);
        Assert.False(outcome.Succeeded);
        Assert.Contains("no 'prompt' column", outcome.Error);
        Assert.Contains("no 'prompt' column", Encoding.UTF8.GetString((await _store.ReadAsync(Containers.Runs, RunBlobs.Error(run)))!));
        Assert.Equal("text\nno prompt column here\n", Encoding.UTF8.GetString((await _store.ReadAsync(Containers.Prompts, blob))!));
        Assert.Null(await _store.ReadAsync(Containers.Images, RunBlobs.Image(run, 0, 1)));
    }

    [Theory]
    [InlineData("null negative", "--negative-prompt (options.negative_prompt): must be a string")]
    [InlineData("unreachable target", "target savings 0.7 is out of reach")]
    public async Task OptionsThatOnlyPrepareCanJudgeFailTheRunWithErrorJson(string what, string reason)
    {
        await using DurableTaskTestHost host = await StartHost();
        string blob = await Upload($"{what.Replace(' ', '-')}.txt", string.Join("\n", Prompts));
        GenerationOptions options = what == "null negative"
            ? new GenerationOptions { Steps = 4, NegativePrompt = null! }
            : new GenerationOptions { Steps = 4, TargetSavings = 0.7 };
        string run = $"{_prefix}-{what.Replace(' ', '-')}";
        await host.Client.ScheduleNewOrchestrationInstanceAsync(RunFunctions.Orchestrator, new RunInput(run, blob, options), new StartOrchestrationOptions(run));

        RunOutcome outcome = await Complete(host.Client, run);

        Assert.False(outcome.Succeeded);
        Assert.Contains(reason, outcome.Error);
        Assert.Contains(reason, Encoding.UTF8.GetString((await _store.ReadAsync(Containers.Runs, RunBlobs.Error(run)))!));
    }
}
