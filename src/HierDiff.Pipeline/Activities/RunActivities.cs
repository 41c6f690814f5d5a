using System.Diagnostics;
using System.Text.Json;
using HierDiff.Core;
using HierDiff.Core.Clustering;
using HierDiff.Core.Planning;
using HierDiff.Core.Prompts;
using HierDiff.Core.Sampling;
using HierDiff.Core.Schedulers;
using HierDiff.Models;
using HierDiff.Models.Images;
using HierDiff.Models.Pipelines;
using HierDiff.Pipeline.Orchestration;
using HierDiff.Pipeline.Storage;

namespace HierDiff.Pipeline.Activities;

/// <summary>Settings an activity host is configured with (app settings in Azure, options on the command line).</summary>
public sealed record PipelineSettings
{
    public PromptFileLimits Limits { get; init; } = PromptFileLimits.Default;

    /// <summary>What one second of a GPU worker costs, for the manifest's cost estimate.</summary>
    public double PricePerGpuSecond { get; init; }
}

/// <summary>
/// The work of a run, as activities: plain methods over a store and a model, hosted by Durable Functions in Azure
/// and called directly on one machine. Every activity can run twice (Durable retries) and writes the same bytes.
/// </summary>
public sealed class RunActivities(IRunStore store, Func<StableDiffusionModel> model, PipelineSettings settings)
{
    private readonly JsonSerializerOptions _json = RunPlanFile.Json;

    /// <summary>Called with the number of latents each model call denoised (for progress bars on one machine).</summary>
    public Action<int>? OnDenoised { get; init; }

    /// <summary>Validates and encodes the prompts, builds the plan, and stores it with each segment's conditioning.
    /// Bad input fails the run with its reason in runs/{run}/error.json; the prompt file is never touched.</summary>
    public async Task<PreparedRun> PrepareAsync(RunInput input)
    {
        string run = StoreNames.CheckRunId(input.RunId);
        try
        {
            return await PrepareCheckedAsync(run, input);
        }
        catch (HierDiffInputException e)
        {
            await FailAsync(run, e.Message);
            return new PreparedRun(run, e.Message, 0, input.Options.Steps, 0, "", 0, 0, []);
        }
    }

    public async Task<ActivityReport> RunSegmentsAsync(SegmentBatch batch)
    {
        var wall = Stopwatch.StartNew();
        RunPlanFile plan = await ReadPlanAsync(batch.RunId);
        StableDiffusionModel sd = model();
        GenerationOptions options = plan.Options;
        DiffusionScheduler scheduler = SchedulerFactory.Create(plan.Scheduler, sd.SchedulerConfig, options.Steps);
        Dictionary<int, PlannedSegment> byNode = plan.Segments.ToDictionary(s => s.Node);
        PlanSegment[] segments = batch.Nodes
            .Select(n => byNode[n])
            .Select(s => new PlanSegment(s.Node, s.Start, s.End, s.Source, s.Members, 0))
            .ToArray();

        var conditioning = new Dictionary<int[], float[]>(ReferenceEqualityComparer.Instance);
        foreach (PlanSegment s in segments)
        {
            conditioning[s.Members] = FloatBlobs.FromBytes(await ReadAsync(Containers.Runs, RunBlobs.Conditioning(batch.RunId, s.Node)));
        }

        float[] negative = FloatBlobs.FromBytes(await ReadAsync(Containers.Runs, RunBlobs.Negative(batch.RunId)));
        byte[]? handOff = batch.Source >= 0 ? await ReadAsync(Containers.Runs, RunBlobs.Trajectory(batch.RunId, batch.Source)) : null;

        var guided = new GuidedDenoiser(sd.UNet, negative, options.Guidance, plan.LatentHeight, plan.LatentWidth);
        var denoiser = new ReportingDenoiser(guided, OnDenoised);
        var worker = new SegmentWorker(scheduler, denoiser, new PreparedConditioning(conditioning), options.Seed);
        int latentLength = plan.LatentChannels * plan.LatentHeight * plan.LatentWidth;
        Trajectory[] done = worker.RunBatch(segments, latentLength, handOff, options.MaxBatch);

        var decodeClock = new Stopwatch();
        if (batch.End == options.Steps)
        {
            // The last step: these latents are images. Prompts that share a final segment share its image.
            decodeClock.Start();
            IReadOnlyList<RgbImage> images = sd.Vae.Decode(done.Select(t => t.Latent).ToArray(), plan.LatentChannels, plan.LatentHeight, plan.LatentWidth);
            decodeClock.Stop();
            for (int i = 0; i < segments.Length; i++)
            {
                foreach (int member in segments[i].Members)
                {
                    PlannedPrompt prompt = plan.Prompts[member];
                    byte[] png = PngEncoder.Encode(images[i], GenerationManifest.ImageText(
                        prompt.Text, options.NegativePrompt, options.Seed, options.Steps, plan.Tau, Mode(options), plan.Scheduler, options.Guidance, plan.Model));
                    await store.WriteAsync(Containers.Images, RunBlobs.Image(batch.RunId, member, plan.Prompts.Count), png);
                }
            }
        }
        else
        {
            for (int i = 0; i < segments.Length; i++)
            {
                await store.WriteAsync(Containers.Runs, RunBlobs.Trajectory(batch.RunId, segments[i].Node), done[i].ToBytes());
            }
        }

        long calls = segments.Length * (long)(batch.End - batch.Start);
        return new ActivityReport(guided.ModelSeconds + decodeClock.Elapsed.TotalSeconds, wall.Elapsed.TotalSeconds, calls, decodeClock.Elapsed.TotalSeconds);
    }

    /// <summary>Writes the manifest: what was made, what it cost in denoiser calls and in GPU seconds.</summary>
    public async Task<RunOutcome> FinishAsync(FinishInput input)
    {
        RunPlanFile plan = await ReadPlanAsync(input.RunId);
        GenerationOptions options = plan.Options;
        int n = plan.Prompts.Count;
        ManifestPrompt[] prompts = plan.Prompts
            .Select(p => new ManifestPrompt(p.Index, p.Text, GenerationManifest.ImageName(p.Index, n), p.Tokens, p.Truncated))
            .ToArray();
        double denoiseSeconds = input.Work.ModelSeconds - input.Work.DecodeSeconds;
        double standardGpuSeconds = input.Work.DecodeSeconds + (plan.DenoiserCalls == 0 ? 0 : denoiseSeconds * plan.StandardDenoiserCalls / plan.DenoiserCalls);
        (int width, int height) = PngSize(await ReadAsync(Containers.Images, RunBlobs.Image(input.RunId, 0, n)));
        var manifest = new PipelineManifest(
            new GenerationManifest(
                Mode(options),
                plan.Model,
                plan.Device,
                prompts,
                prompts.Select(p => p.Image).ToArray(),
                options.Steps,
                plan.Tau,
                options.Mode == GenerationMode.Hierarchical ? options.TargetSavings : null,
                options.Seed,
                plan.Scheduler,
                options.Guidance,
                options.NegativePrompt,
                options.MaxBatch,
                width,
                height,
                plan.DenoiserCalls,
                plan.StandardDenoiserCalls,
                1.0 - ((double)plan.DenoiserCalls / plan.StandardDenoiserCalls),
                prompts.Count(p => p.Truncated),
                new ManifestTimings(input.WallSeconds, plan.EncodeSeconds, plan.ClusterSeconds, denoiseSeconds, input.Work.DecodeSeconds)),
            new GpuAccounting(
                input.Work.ModelSeconds,
                input.Work.WallSeconds,
                standardGpuSeconds,
                settings.PricePerGpuSecond,
                input.Work.WallSeconds * settings.PricePerGpuSecond,
                standardGpuSeconds * settings.PricePerGpuSecond));
        await store.WriteAsync(Containers.Runs, RunBlobs.Manifest(input.RunId), manifest.ToJsonBytes());
        return new RunOutcome(input.RunId, true, null, $"{Containers.Runs}/{RunBlobs.Manifest(input.RunId)}");
    }

    /// <summary>Records why a run failed, in runs/{run}/error.json.</summary>
    public Task FailAsync(string runId, string reason) =>
        store.WriteAsync(Containers.Runs, RunBlobs.Error(runId), JsonSerializer.SerializeToUtf8Bytes(new { run_id = runId, error = reason }, _json));

    private async Task<PreparedRun> PrepareCheckedAsync(string run, RunInput input)
    {
        GenerationOptions options = input.Options;
        options.Validate();
        string blob = StoreNames.Check(input.PromptsBlob, "prompt file");
        string container = input.PromptsContainer is Containers.Prompts or Containers.Runs
            ? input.PromptsContainer
            : throw new HierDiffInputException($"prompt files are read from the {Containers.Prompts} container, not '{input.PromptsContainer}'");
        byte[] bytes = await store.ReadAsync(container, blob)
            ?? throw new HierDiffInputException($"{container}/{blob}: no such prompt file");
        PromptSet set = PromptFileReader.Parse(bytes, blob, settings.Limits);

        StableDiffusionModel sd = model();
        string scheduler = options.Scheduler ?? SchedulerFactory.NameForClass(sd.SchedulerConfig.ClassName) ?? SchedulerFactory.Ddpm;
        SchedulerFactory.Create(scheduler, sd.SchedulerConfig, options.Steps);

        var clock = Stopwatch.StartNew();
        IReadOnlyList<EncodedPrompt> encoded = sd.TextEncoder.Encode(set.Texts);
        float[] negative = sd.TextEncoder.Encode([options.NegativePrompt])[0].HiddenStates;
        double encodeSeconds = clock.Elapsed.TotalSeconds;
        clock.Restart();

        double tau = 0;
        List<PlannedSegment> segments;
        long calls;
        if (options.Mode == GenerationMode.Hierarchical)
        {
            Linkage tree = WardLinkage.FromEmbeddings(StableDiffusionPipeline.PooledEmbeddings(encoded));
            tau = options.TargetSavings is double target
                ? TauSearch.SmallestTauForSavings(tree, options.Steps, target)
                : options.Tau ?? GenerationOptions.DefaultTau;
            HierarchicalPlan plan = HierarchicalPlan.Build(tree, tau, options.Steps);
            segments = plan.Segments.Select(s => new PlannedSegment(s.Node, s.StartStep, s.EndStep, s.Source, s.Members)).ToList();
            calls = plan.DenoiserCalls;
        }
        else
        {
            segments = Enumerable.Range(0, set.Count).Select(p => new PlannedSegment(p, 0, options.Steps, -1, [p])).ToList();
            calls = (long)options.Steps * set.Count;
        }

        double clusterSeconds = clock.Elapsed.TotalSeconds;
        var mean = new MeanConditioning(encoded.Select(e => e.HiddenStates).ToArray());
        foreach (PlannedSegment s in segments)
        {
            await store.WriteAsync(Containers.Runs, RunBlobs.Conditioning(run, s.Node), FloatBlobs.ToBytes(mean.For(s.Members)));
        }

        await store.WriteAsync(Containers.Runs, RunBlobs.Negative(run), FloatBlobs.ToBytes(negative));
        var file = new RunPlanFile(
            run, blob, sd.Name, sd.Device.ToString(), options, tau, scheduler, sd.LatentChannels, sd.LatentHeight, sd.LatentWidth,
            calls, (long)options.Steps * set.Count, encodeSeconds, clusterSeconds,
            set.Prompts.Select((p, i) => new PlannedPrompt(i, p.Text, encoded[i].Tokens.TokenCount, encoded[i].Tokens.Truncated)).ToArray(),
            segments);
        await store.WriteAsync(Containers.Runs, RunBlobs.Plan(run), file.ToBytes());
        return new PreparedRun(run, null, set.Count, options.Steps, tau, scheduler, calls, file.StandardDenoiserCalls,
            segments.Select(s => new SegmentSpec(s.Node, s.Start, s.End, s.Source)).ToArray());
    }

    private async Task<RunPlanFile> ReadPlanAsync(string run) =>
        RunPlanFile.Parse(await ReadAsync(Containers.Runs, RunBlobs.Plan(StoreNames.CheckRunId(run))));

    private async Task<byte[]> ReadAsync(string container, string name) =>
        await store.ReadAsync(container, name) ?? throw new InvalidOperationException($"{container}/{name} is missing");

    private static string Mode(GenerationOptions options) => options.Mode.ToString().ToLowerInvariant();

    /// <summary>Width and height from a PNG's IHDR chunk.</summary>
    private static (int Width, int Height) PngSize(byte[] png) =>
        (System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)), System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)));

    /// <summary>Each segment's conditioning, computed once by PrepareRun and read back from the store.</summary>
    private sealed class PreparedConditioning(Dictionary<int[], float[]> byMembers) : IConditioning
    {
        public float[] For(IReadOnlyList<int> prompts) => byMembers[(int[])prompts];
    }

    /// <summary>Reports each model call's items (for progress bars on one machine).</summary>
    private sealed class ReportingDenoiser(IDenoiser inner, Action<int>? onDenoised) : IDenoiser
    {
        public void Predict(IReadOnlyList<DenoiserInput> batch, IReadOnlyList<float[]> outputs)
        {
            inner.Predict(batch, outputs);
            onDenoised?.Invoke(batch.Count);
        }
    }
}
