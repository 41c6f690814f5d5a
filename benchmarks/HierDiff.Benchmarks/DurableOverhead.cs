using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Azure.Storage.Blobs;
using HierDiff.Functions;
using HierDiff.Functions.Functions;
using HierDiff.ShapesWorld.World;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.DurableTask.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace HierDiff.Benchmarks;

/// <summary>
/// What the serverless shape costs beyond the model's own work: N prompts of the shapes world on the built-in model,
/// through the Functions app's orchestrators and activities in an in-process Durable Task host, over blob storage in
/// Azurite (127.0.0.1:10000). For each run: wall time from scheduling to completion, the model's busy seconds
/// (encoding, denoising, decoding), clustering, and the rest, the orchestration overhead (dispatching activities,
/// reading and writing blobs, serialising messages), as a share of the wall time. The same runs through the
/// in-process host of <c>hierdiff generate</c> over the same Azurite separate Durable's share from storage's.
/// </summary>
public static class DurableOverhead
{
    public static async Task RunAsync(int promptCount, int steps)
    {
        // The test host's gRPC sidecar logs every request at Information through the default host configuration.
        Environment.SetEnvironmentVariable("Logging__LogLevel__Default", "Warning");
        string[] prompts = WorldPrompts(promptCount, seed: 500);
        using var model = StableDiffusionModel.Load(BuiltInModel.Directory, OnnxDevice.Cpu);
        var store = new BlobRunStore(new BlobServiceClient("UseDevelopmentStorage=true"));
        string prefix = "bench-" + Guid.NewGuid().ToString("N")[..8];
        string blob = $"{prefix}/prompts.txt";
        await store.WriteAsync(Containers.Prompts, blob, Encoding.UTF8.GetBytes(string.Join('\n', prompts)));

        var settings = new HierDiffSettings(model.Directory, OnnxDevice.Cpu, new PipelineSettings(), CallbackPolicy.FromSetting(null));
        var functions = new RunActivityFunctions(new RunActivities(store, () => model, settings.Pipeline), store, settings);
        int activities = 0;
        await using DurableTaskTestHost host = await DurableTaskTestHost.StartAsync(
            registry => registry.AddRunFunctions(functions, (batch, run) =>
            {
                Interlocked.Increment(ref activities);
                return run(batch);
            }),
            new DurableTaskTestHostOptions { LoggerFactory = NullLoggerFactory.Instance });
        var local = new LocalPipeline(store, () => model, settings.Pipeline);

        var options = new GenerationOptions { Steps = steps };
        (string Name, GenerationOptions Options)[] modes =
        [
            ("standard", options with { Mode = GenerationMode.Standard }),
            ("hierarchical, 40 % target", options with { TargetSavings = 0.4 }),
            ("hierarchical, 60 % target", options with { TargetSavings = 0.6 }),
        ];

        // Warm-up: load the sessions, open the connections, JIT the paths.
        await RunDurable(host.Client, new RunInput($"{prefix}-warm", blob, options with { Steps = 2 }));

        Console.WriteLine($"{prompts.Length} shapes-world prompts, {steps} DDPM steps, built-in model on the CPU, blob storage in Azurite");
        Console.WriteLine("| host | run | segment activities | wall s | model busy s | cluster s | overhead s | overhead share |");
        Console.WriteLine("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        int index = 0;
        foreach ((string name, GenerationOptions runOptions) in modes)
        {
            foreach (string hostName in new[] { "Durable (in-process host)", "hierdiff generate (in-process)" })
            {
                string runId = $"{prefix}-{index++}";
                var input = new RunInput(runId, blob, runOptions);
                int before = activities;
                var clock = Stopwatch.StartNew();
                RunOutcome outcome = hostName.StartsWith("Durable", StringComparison.Ordinal)
                    ? await RunDurable(host.Client, input)
                    : await local.RunAsync(input);
                double wall = clock.Elapsed.TotalSeconds;
                if (!outcome.Succeeded)
                {
                    throw new InvalidOperationException($"{runId} failed: {outcome.Error}");
                }

                using JsonDocument manifest = JsonDocument.Parse((await store.ReadAsync(Containers.Runs, RunBlobs.Manifest(runId)))!);
                JsonElement timings = manifest.RootElement.GetProperty("timings");
                double busy = timings.GetProperty("encode_s").GetDouble() + manifest.RootElement.GetProperty("gpu").GetProperty("model_busy_seconds").GetDouble();
                double cluster = timings.GetProperty("cluster_s").GetDouble();
                double overhead = wall - busy - cluster;
                string count = hostName.StartsWith("Durable", StringComparison.Ordinal) ? (activities - before).ToString("N0") : "same";
                Console.WriteLine($"| {hostName} | {name} | {count} | {wall:0.0} | {busy:0.0} | {cluster:0.00} | {overhead:0.0} | {overhead / wall:0.0 %} |");
            }
        }
    }

    private static async Task<RunOutcome> RunDurable(DurableTaskClient client, RunInput input)
    {
        await client.ScheduleNewOrchestrationInstanceAsync(RunFunctions.Orchestrator, input, new StartOrchestrationOptions(input.RunId));
        OrchestrationMetadata done = await client.WaitForInstanceCompletionAsync(input.RunId, getInputsAndOutputs: true);
        return done.RuntimeStatus == OrchestrationRuntimeStatus.Completed
            ? done.ReadOutputAs<RunOutcome>()!
            : throw new InvalidOperationException($"{input.RunId}: {done.RuntimeStatus} {done.FailureDetails?.ErrorMessage}");
    }

    /// <summary>Prompts as <c>hierdiff world</c> writes them: varied scenes in varied wordings.</summary>
    private static string[] WorldPrompts(int count, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => PromptWriter.Write(PromptWriter.RandomDescription(random), random)).ToArray();
    }
}
