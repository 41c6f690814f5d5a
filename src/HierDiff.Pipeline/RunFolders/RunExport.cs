using Azure.Storage.Blobs;
using HierDiff.Core;
using HierDiff.Core.Planning;
using HierDiff.Core.Prompts;
using HierDiff.Core.Runs;
using HierDiff.Core.Schedulers;
using HierDiff.Models;
using HierDiff.Models.Images;
using HierDiff.Models.Pipelines;
using HierDiff.Pipeline.Activities;
using HierDiff.Pipeline.Orchestration;
using HierDiff.Pipeline.Storage;

namespace HierDiff.Pipeline.RunFolders;

/// <summary>
/// Runs the pipeline while <paramref name="run"/> runs: its argument is told, once the run is planned, standard
/// generation's denoiser calls (the end of a bar: what sharing saves ends it early), then each batch of denoiser
/// calls as they are made. A host shows progress with it (the command line's bar); it must call
/// <paramref name="run"/> once and return its outcome.
/// </summary>
public delegate RunOutcome RunProgress(Func<RunProgressSink, RunOutcome> run);

/// <summary>What a run tells its progress display: the calls standard generation would make, then calls as made.</summary>
public sealed record RunProgressSink(Action<long> Planned, Action<long> Denoised);

/// <summary>
/// One run into a folder, as <c>hierdiff generate</c> makes it: the pipeline's orchestration in this process over a
/// store (a local folder by default, or blob storage), then the images, manifest.json, plan.json and, if asked, the
/// node images moved into the output folder at once (see <see cref="OutputFolder"/>).
/// </summary>
public static class RunExport
{
    /// <summary>A shared cluster's image where it splits, in a run folder (<c>--keep-node-images</c>).</summary>
    public static string NodeImage(int node) => $"nodes/{node}.png";

    /// <summary>
    /// Runs the prompts in <paramref name="promptPath"/> and writes the run folder <paramref name="outPath"/>
    /// (refused before any work where it is not ours to write, see <see cref="OutputFolder.Open(string, bool, string[])"/>).
    /// <paramref name="connection"/>: a blob storage connection string for the intermediate files (null: a local folder).
    /// </summary>
    public static GenerationManifest Run(
        string promptPath, string outPath, GenerationOptions options, ITextToImageModel model, bool overwrite, string? connection, bool keepNodes,
        RunProgress? progress = null, PipelineSettings? settings = null, string? modelPath = null, CancellationToken cancellation = default)
    {
        settings ??= new PipelineSettings();
        // Read here, under the user's name and within the limits; parsed (and the options checked against it) once,
        // by PrepareRun, whose errors name it too.
        byte[] promptBytes = PromptFileReader.ReadBytes(promptPath, settings.Limits);
        BlobServiceClient? blobs = connection is null ? null : StorageAccount.Connect(connection);
        using OutputFolder folder = OutputFolder.Open(outPath, overwrite, modelPath is null ? [promptPath] : [promptPath, modelPath]);
        IRunStore store = blobs is null ? new LocalRunStore(Path.Combine(folder.Staging, ".store")) : new BlobRunStore(blobs);

        // The same orchestration and activities as the Functions app, hosted in this process.
        string runId = $"cli-{DateTime.UtcNow:yyyyMMdd-HHmmss}-{Guid.NewGuid().ToString("N")[..8]}";
        // The file was read and checked above under its own name; in the store any name would do, so one that is always safe.
        string blob = $"{runId}/prompts{Path.GetExtension(promptPath).ToLowerInvariant()}";
        store.WriteAsync(Containers.Prompts, blob, promptBytes).GetAwaiter().GetResult();
        var input = new RunInput(runId, blob, options, PromptsName: promptPath);
        int count = 0;
        RunOutcome RunPipeline(RunProgressSink sink) => new LocalPipeline(store, () => model, settings, items =>
        {
            cancellation.ThrowIfCancellationRequested();
            sink.Denoised(items);
        }, cancellation, prepared =>
        {
            count = prepared.PromptCount;
            sink.Planned(prepared.StandardDenoiserCalls);
        }).RunAsync(input).GetAwaiter().GetResult();
        RunOutcome outcome = progress is null
            ? RunPipeline(new RunProgressSink(_ => { }, _ => { }))
            : progress(RunPipeline);
        if (!outcome.Succeeded)
        {
            throw new HierDiffInputException(outcome.Error ?? "the run failed");
        }

        byte[] manifestBytes = Read(store, Containers.Runs, RunBlobs.Manifest(runId));
        var manifest = GenerationManifest.Parse(manifestBytes);
        for (int i = 0; i < count; i++)
        {
            folder.WriteFile(GenerationManifest.ImageName(i, count), Read(store, Containers.Images, RunBlobs.Image(runId, i, count)));
        }

        // A sharded run's manifest is its summary; each shard's manifest lists that shard's prompts.
        foreach (ManifestShard shard in manifest.Shards ?? [])
        {
            folder.WriteFile(shard.Manifest, Read(store, Containers.Runs, $"{runId}/{shard.Manifest}"));
        }

        cancellation.ThrowIfCancellationRequested();
        folder.WriteFile("manifest.json", manifestBytes);
        // The run's plan as PlanRun wrote it, tree included: report draws it.
        byte[] planBytes = Read(store, Containers.Runs, RunBlobs.Plan(runId));
        folder.WriteFile(RunPlanFile.FileName, planBytes);
        RunPlanFile plan = RunPlanFile.Parse(planBytes);
        if (keepNodes)
        {
            WriteNodeImages(store, model, plan, folder);
        }

        if (connection is null)
        {
            Directory.Delete(Path.Combine(folder.Staging, ".store"), recursive: true);
        }

        cancellation.ThrowIfCancellationRequested();
        folder.Commit();
        return manifest;
    }

    /// <summary>Decodes the latent each shared segment handed to its children through the store: what the cluster
    /// looks like when it splits. Segments whose subtree ran in memory, in one activity, left no latent to decode.</summary>
    private static void WriteNodeImages(IRunStore store, ITextToImageModel model, RunPlanFile plan, OutputFolder folder)
    {
        var kept = new List<(int Node, float[] Latent)>();
        foreach (PlanSegment s in plan.Segments.Where(s => s.End < plan.DenoiserSteps))
        {
            if (store.ReadAsync(Containers.Runs, RunBlobs.Trajectory(plan.RunId, s.Node)).GetAwaiter().GetResult() is byte[] bytes)
            {
                kept.Add((s.Node, Trajectory.FromBytes(bytes).Latent));
            }
        }

        IReadOnlyList<RgbImage> images = model.Decode(kept.Select(k => k.Latent).ToArray());
        for (int i = 0; i < kept.Count; i++)
        {
            folder.WriteFile(NodeImage(kept[i].Node), PngEncoder.Encode(images[i]));
        }
    }

    private static byte[] Read(IRunStore store, string container, string name) =>
        store.ReadAsync(container, name).GetAwaiter().GetResult() ?? throw new InvalidOperationException($"{container}/{name} is missing");
}
