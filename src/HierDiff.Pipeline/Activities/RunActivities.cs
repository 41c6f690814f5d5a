using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using HierDiff.Core;
using HierDiff.Core.Clustering;
using HierDiff.Core.Planning;
using HierDiff.Core.Prompts;
using HierDiff.Core.Runs;
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

    /// <summary>Siblings whose whole subtrees need at most this many denoiser calls are packed into activities of
    /// at most that many calls that run them in memory, every model call filled across them (0: every segment
    /// batch is its own activity). Larger subtrees batch better and hand off less (measured before calls were
    /// filled across steps: 240 prompts at 40 % saved took 28.4 s as one activity per segment batch, 24.0 s with
    /// subtrees of up to 2,000 calls, 19.3 s as one activity); smaller ones spread a run over more GPU workers,
    /// for latency.</summary>
    public int MaxSubtreeCalls { get; init; } = DefaultMaxSubtreeCalls;

    public const int DefaultMaxSubtreeCalls = 10_000;

    /// <summary>Prompts per EncodePrompts activity. A multiple of the text encoder's batch of 16 encodes every prompt
    /// exactly as encoding them all at once would; 1,024 hold 242 MB of Stable Diffusion 1.5's conditioning.</summary>
    public int PromptsPerChunk { get; init; } = 1_024;

    /// <summary>The most prompts a ConditionClusters activity reads: parts of the tree of at most this many are
    /// conditioned in parallel, then what is above them.</summary>
    public int PromptsPerConditioning { get; init; } = 4_096;
}

/// <summary>
/// The work of a run, as activities: plain methods over a store and a model, hosted by Durable Functions in Azure
/// and called directly on one machine. Every activity can run twice (Durable retries) and writes the same bytes.
/// </summary>
public sealed partial class RunActivities(IRunStore store, Func<ITextToImageModel> model, PipelineSettings settings)
{
    private const int CachedRuns = 8;

    // A plan costs memory in proportion to its prompts (their texts, the tree, every segment's members), so a worker keeps
    // no more than this many prompts' plans besides the one it is reading.
    private const int CachedPrompts = 50_000;
    private readonly JsonSerializerOptions _json = RunPlanFile.Json;
    private readonly ConcurrentDictionary<(string Run, int Scope), Task<RunData>> _runs = new();

    /// <summary>Called with the number of latents each model call denoised (for progress bars on one machine).</summary>
    public Action<int>? OnDenoised { get; init; }

    /// <summary>An activity by the name the orchestration calls it (<see cref="RunFunctions"/>), its input and result
    /// as objects: for hosts that call activities by name without JSON in between (a test's recording host, the
    /// memory benchmark). The Functions app and <see cref="LocalPipeline"/> bind each name to its typed method.</summary>
    public async Task<object> CallAsync(string name, object input) => name switch
    {
        RunFunctions.Prepare => await PrepareAsync((RunInput)input),
        RunFunctions.Encode => await EncodeAsync((EncodeInput)input),
        RunFunctions.Shard => await ShardAsync((PlanInput)input),
        RunFunctions.TreeShard => await TreeShardAsync((ShardInput)input),
        RunFunctions.Plan => await PlanAsync((PlanInput)input),
        RunFunctions.Condition => await ConditionAsync((ConditionInput)input),
        RunFunctions.Schedule => await ScheduleAsync((SubtreeInput)input),
        RunFunctions.Segments => await RunSegmentsAsync((SegmentBatch)input),
        RunFunctions.FinishShard => await FinishShardAsync((FinishShardInput)input),
        RunFunctions.Finish => await FinishAsync((FinishInput)input),
        _ => throw new ArgumentException($"no activity is called '{name}'", nameof(name)),
    };

    /// <summary>What one history of the orchestration runs and delegates (<see cref="HistorySchedule"/>), from the
    /// run's plan. The history's own schedule activity is one of its activities.</summary>
    public async Task<HistorySchedule> ScheduleAsync(SubtreeInput input)
    {
        // Only what is below this history's sources: a sub-orchestration's schedule does not walk the whole tree.
        RunData run = await ReadRunAsync(StoreNames.CheckRunId(input.RunId), input.Shard);
        static SegmentSpec Spec(PlanSegment s) => new(s.Node, s.Start, s.End, s.Source);
        if (run.Plan.Scope == -1)
        {
            // The top history of a sharded run: the shared segments above the shards (fewer than two a shard), each
            // batch an activity of its own, and each shard a sub-orchestration once the node it continues is done.
            return HistorySchedule.Build(
                input.RunId, [.. run.Plan.Segments.Select(Spec)], input.Sources, int.MaxValue, 0, -1, [.. run.Plan.ShardStarts.Select(s => (s.Shard, s.Source))]);
        }

        // A shard's own history starts from a node above the shard: it takes every segment of the shard's part.
        bool fromAbove = run.Plan.Scope >= 0 && input.Sources is [int source] && !run.Segments.ContainsKey(source);
        IEnumerable<PlanSegment> below = fromAbove ? run.Plan.Segments : run.Tree.Below(input.Sources);
        return HistorySchedule.Build(input.RunId, [.. below.Select(Spec)], input.Sources, input.MaxActivities - 1, input.MaxSubtreeCalls, input.Shard);
    }

    /// <summary>Denoises a batch of sibling segments (and, with <see cref="SegmentBatch.Subtree"/>, everything below
    /// them), handing their trajectories on or writing their images. A latent that turns non-finite fails the run
    /// (error.json, and the report's Error): the same inputs would fail the same way on a retry.</summary>
    public async Task<ActivityReport> RunSegmentsAsync(SegmentBatch batch)
    {
        DateTimeOffset started = DateTimeOffset.UtcNow;
        try
        {
            ActivityReport report = await RunSegmentsCheckedAsync(batch);
            return report with { Busy = [new BusyInterval(WorkerTime.ThisWorker, started, DateTimeOffset.UtcNow)] };
        }
        catch (NonFiniteLatentException e)
        {
            RunData run = await ReadRunAsync(batch.RunId, batch.Shard);
            string error = $"{e.Message}; its first prompt: '{run.Prompt(e.Segment.Members[0]).Text}'";
            await FailAsync(batch.RunId, error);
            return new ActivityReport(0, 0, 0, 0, [new BusyInterval(WorkerTime.ThisWorker, started, DateTimeOffset.UtcNow)], error);
        }
    }

    private async Task<ActivityReport> RunSegmentsCheckedAsync(SegmentBatch batch)
    {
        var wall = Stopwatch.StartNew();
        RunData run = await ReadRunAsync(batch.RunId, batch.Shard);
        RunPlanFile plan = run.Plan;
        ITextToImageModel sd = model();
        if (sd.Fingerprint != plan.ModelFingerprint)
        {
            // A worker with another model would continue these latents into wrong images, with no error.
            throw new InvalidOperationException($"run {batch.RunId} was planned with model {plan.Model} ({plan.ModelFingerprint}); this worker has {sd.Name} ({sd.Fingerprint})");
        }

        GenerationOptions options = plan.Options;
        DiffusionScheduler scheduler = SchedulerFactory.Create(plan.Scheduler, sd.SchedulerConfig, options.Steps);
        int steps = scheduler.StepCount;

        // The batch, and with Subtree everything below it too, parents before children.
        IEnumerable<PlanSegment> planned = batch.Nodes.Select(n => run.Segments[n]);
        PlanSegment[] segments = [.. batch.Subtree ? planned.Concat(run.Tree.Below(batch.Nodes)) : planned];

        // Every read this activity needs, at once: each segment's conditioning (a cluster's mean, or its one prompt's
        // out of its chunk; plans of earlier builds stored every segment's) and the trajectory it continues.
        Task<byte[]>[] conditioningReads = segments.Select(s => s.Members.Length == 1 && plan.PromptsPerChunk > 0
            ? ReadPromptConditioningAsync(plan, s.Members[0])
            : ReadAsync(Containers.Runs, RunBlobs.Conditioning(batch.RunId, s.Node))).ToArray();
        Task<byte[]>? handOffRead = batch.Source >= 0 ? ReadAsync(Containers.Runs, RunBlobs.Trajectory(batch.RunId, batch.Source)) : null;
        await Task.WhenAll(conditioningReads);
        var conditioning = new Dictionary<int, float[]>();
        for (int i = 0; i < segments.Length; i++)
        {
            conditioning[segments[i].Node] = FloatBlobs.FromBytes(conditioningReads[i].Result);
        }

        var handOffs = new Dictionary<int, byte[]>();
        if (handOffRead is not null)
        {
            handOffs[batch.Source] = await handOffRead;
        }

        IModelDenoiser guided = sd.CreateDenoiser(run.Negative, options.GuidanceScale());
        var sampler = new PlanSampler(scheduler, guided, new PreparedConditioning(conditioning), options.Seed, options.MaxBatch)
        {
            SharedStartingLatent = options.StartingLatentUsed() == StartingLatent.Shared,
            OnBatchDone = OnDenoised,
        };
        int latentLength = plan.LatentChannels * plan.LatentHeight * plan.LatentWidth;

        // What comes back is what ends here: final latents (images) and trajectories that later activities continue.
        IReadOnlyList<(PlanSegment Segment, Trajectory Trajectory)> frontier = sampler.RunSegments(segments, latentLength, handOffs);
        (PlanSegment Segment, Trajectory Trajectory)[] done = frontier.Where(d => d.Segment.End == steps).ToArray();
        (PlanSegment Segment, Trajectory Trajectory)[] handedOn = frontier.Where(d => d.Segment.End < steps).ToArray();

        var decodeClock = new Stopwatch();
        if (done.Length > 0)
        {
            // The last step: these latents are images. Prompts that share a final segment share its image.
            decodeClock.Start();
            IReadOnlyList<RgbImage> images = sd.Decode(done.Select(d => d.Trajectory.Latent).ToArray());
            decodeClock.Stop();
            (string mode, double guidance, string start) = (Mode(options), options.GuidanceScale(), GenerationOptions.StartingLatentName(options.StartingLatentUsed()));
            await Task.WhenAll(done.SelectMany((d, i) => d.Segment.Members.Select(member =>
            {
                PlannedPrompt prompt = run.Prompt(member);
                byte[] png = PngEncoder.Encode(images[i], GenerationManifest.ImageText(
                    prompt.Text, options.NegativePrompt, options.Seed, options.Steps, plan.Tau, mode, plan.Scheduler, guidance, plan.Model, start));
                return store.WriteAsync(Containers.Images, RunBlobs.Image(batch.RunId, member, plan.RunPromptCount()), png);
            })));
        }

        await Task.WhenAll(handedOn.Select(d =>
            store.WriteAsync(Containers.Runs, RunBlobs.Trajectory(batch.RunId, d.Segment.Node), d.Trajectory.ToBytes())));

        long calls = segments.Sum(s => (long)s.Steps);
        return new ActivityReport(
            guided.ModelSeconds + decodeClock.Elapsed.TotalSeconds, wall.Elapsed.TotalSeconds - guided.WaitSeconds, calls, decodeClock.Elapsed.TotalSeconds,
            Images: done.Sum(d => (long)d.Segment.Members.Length), Batches: guided.Batches);
    }

    /// <summary>Writes a shard's manifest (shards/00000.json): its prompts and images, and what its own segments
    /// cost; the run's summary lists what it returns.</summary>
    public async Task<ManifestShard> FinishShardAsync(FinishShardInput input)
    {
        RunPlanFile plan = (await ReadRunAsync(StoreNames.CheckRunId(input.RunId), input.Shard)).Plan;
        ManifestPrompt[] prompts = [.. plan.Prompts.Select(p => ManifestPromptOf(plan, p))];
        long calls = plan.Segments.Sum(s => (long)s.Steps);
        long standard = (long)plan.DenoiserSteps * prompts.Length;
        IReadOnlyList<BusyInterval> busy = WorkerTime.Union(input.Work.Busy ?? []);
        string status = input.Work.Error is null ? "succeeded" : "failed";
        var manifest = new ShardManifestFile(
            input.RunId, input.Shard, plan.ShardRoots[input.Shard], status, input.Work.Error, prompts, [.. prompts.Select(p => p.Image)],
            calls, standard, 1.0 - ((double)calls / standard), WorkerTime.Seconds(busy), busy.Select(b => b.Worker).Distinct().Count(), input.Work.ModelSeconds);
        await store.WriteAsync(Containers.Runs, RunBlobs.ShardManifest(input.RunId, input.Shard), manifest.ToJsonBytes());
        return new ManifestShard(
            input.Shard, prompts.Length, input.Work.Images, calls, standard, manifest.GpuSeconds, status, input.Work.Error, RunBlobs.ShardManifestName(input.Shard));
    }

    private static ManifestPrompt ManifestPromptOf(RunPlanFile plan, PlannedPrompt p) =>
        new(p.Index, p.Text, GenerationManifest.ImageName(p.Index, plan.RunPromptCount()), p.Tokens, p.Truncated);

    /// <summary>Writes the manifest: what was made, what it cost in denoiser calls and in GPU seconds. A sharded
    /// run's is its summary: each shard's prompts are in the shard's manifest.</summary>
    public async Task<RunOutcome> FinishAsync(FinishInput input)
    {
        // A sharded run's summary needs only the top part's plan: what every part repeats of the run.
        RunPlanFile plan = (await ReadRunAsync(StoreNames.CheckRunId(input.RunId), -1)).Plan;
        GenerationOptions options = plan.Options;
        int n = plan.RunPromptCount();
        bool sharded = plan.ShardRoots.Count > 0;
        ManifestPrompt[] prompts = sharded ? [] : [.. plan.Prompts.Select(p => ManifestPromptOf(plan, p))];
        ManifestShard[]? shards = sharded ? [.. input.Work.Shards.OrderBy(s => s.Shard)] : null;
        double denoiseSeconds = input.Work.ModelSeconds - input.Work.DecodeSeconds;
        double standardGpuSeconds = input.Work.DecodeSeconds + (plan.DenoiserCalls == 0 ? 0 : denoiseSeconds * plan.StandardDenoiserCalls / plan.DenoiserCalls);
        IReadOnlyList<BusyInterval> busy = WorkerTime.Union(input.Work.Busy ?? []);
        double gpuSeconds = WorkerTime.Seconds(busy);
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
                plan.SchedulerFrom,
                options.GuidanceScale(),
                options.NegativePrompt,
                options.MaxBatch,
                width,
                height,
                plan.DenoiserCalls,
                plan.StandardDenoiserCalls,
                1.0 - ((double)plan.DenoiserCalls / plan.StandardDenoiserCalls),
                plan.PromptCount > 0 ? plan.TruncatedPrompts : plan.Prompts.Count(p => p.Truncated),
                new ManifestTimings(input.WallSeconds, plan.EncodeSeconds, plan.ClusterSeconds, denoiseSeconds, input.Work.DecodeSeconds))
            {
                Preset = options.Preset,
                StartingLatent = GenerationOptions.StartingLatentName(options.StartingLatentUsed()),
                SplitShape = options.SplitShape,
                PrivateSteps = options.PrivateSteps,
                Tree = plan.TreeBuild,
                ModelCalls = ManifestModelCalls.From(input.Work.Batches ?? new BatchSizes(), options.MaxBatch),
                Shards = shards,
                SharedDenoiserCalls = shards is null ? null : plan.DenoiserCalls - shards.Sum(s => s.DenoiserCalls),
            },
            new GpuAccounting(
                gpuSeconds,
                busy.Select(b => b.Worker).Distinct().Count(),
                input.Work.ModelSeconds,
                input.Work.WallSeconds,
                standardGpuSeconds,
                settings.PricePerGpuSecond,
                gpuSeconds * settings.PricePerGpuSecond,
                standardGpuSeconds * settings.PricePerGpuSecond));
        await store.WriteAsync(Containers.Runs, RunBlobs.Manifest(input.RunId), manifest.ToJsonBytes());
        return new RunOutcome(input.RunId, true, null, $"{Containers.Runs}/{RunBlobs.Manifest(input.RunId)}");
    }

    /// <summary>Records why a run failed, in runs/{run}/error.json.</summary>
    public Task FailAsync(string runId, string reason) =>
        store.WriteAsync(Containers.Runs, RunBlobs.Error(runId), JsonSerializer.SerializeToUtf8Bytes(new { run_id = runId, error = reason }, _json));

    private async Task<RunPlanFile> ReadPlanAsync(string run) =>
        RunPlanFile.Parse(await ReadAsync(Containers.Runs, RunBlobs.Plan(StoreNames.CheckRunId(run))));

    /// <summary>Of <see cref="ReadRunAsync"/>: the run's whole plan (plan.json), which preparing reads.</summary>
    private const int WholePlan = int.MinValue;

    /// <summary>A run's plan and negative conditioning, read once per worker: a run id names one run, whose plan
    /// never changes after PlanRun (which, like PrepareRun, drops this worker's copies when it runs, retries included).
    /// <paramref name="scope"/>: a shard, or -1 for what runs outside every shard, reads a sharded run's part plan
    /// (<see cref="PlanScopes"/>), and a run of one tree's whole plan; <see cref="WholePlan"/> reads plan.json.</summary>
    private async Task<RunData> ReadRunAsync(string run, int scope)
    {
        Task<RunData> read = _runs.GetOrAdd((run, scope), async key =>
        {
            (string id, int part) = key;
            byte[]? bytes = part == WholePlan ? null : await store.ReadAsync(Containers.Runs, RunBlobs.PartPlan(id, part));
            if (bytes is null && part != WholePlan)
            {
                // No parts: a run of one tree (or a plan of an earlier build), whose histories all read plan.json.
                return await ReadRunAsync(id, WholePlan);
            }

            RunPlanFile plan = bytes is null ? await ReadPlanAsync(id) : RunPlanFile.Parse(bytes);
            float[] negative = FloatBlobs.FromBytes(await ReadAsync(Containers.Runs, RunBlobs.Negative(id)));
            return new RunData(plan, negative);
        });
        // A run's parts count as one run: a worker runs batches of many shards of a run.
        int cachedPrompts = _runs.Values.Where(t => t.IsCompletedSuccessfully).Select(t => t.Result).Distinct().Sum(r => r.Plan.Prompts.Count);
        if (_runs.Keys.Select(k => k.Run).Distinct().Count() > CachedRuns || cachedPrompts > CachedPrompts)
        {
            // Workers run a handful of runs at a time; forget the others (they are read again if they come back).
            foreach ((string, int) other in _runs.Keys.Where(k => k != (run, scope)))
            {
                _runs.TryRemove(other, out _);
            }
        }

        try
        {
            return await read;
        }
        catch
        {
            // A failed read is not remembered: the retry reads again.
            _runs.TryRemove(new KeyValuePair<(string, int), Task<RunData>>((run, scope), read));
            throw;
        }
    }

    /// <summary>Drops this worker's copies of a run's plans (PrepareRun and PlanRun write them anew).</summary>
    private void Forget(string run)
    {
        foreach ((string, int) key in _runs.Keys.Where(k => k.Item1 == run))
        {
            _runs.TryRemove(key, out _);
        }
    }

    /// <summary>A plan (a run's whole, or a part of a sharded run's) as the activities use it: segments by node, as a
    /// tree, and its prompts by index.</summary>
    private sealed class RunData
    {
        private readonly Dictionary<int, PlannedPrompt>? _prompts;

        public RunData(RunPlanFile plan, float[] negative)
        {
            Plan = plan;
            Negative = negative;
            Segments = plan.Segments.ToDictionary(s => s.Node);
            Tree = new SegmentTree<PlanSegment>(plan.Segments, s => s.Node, s => s.Source, s => s.Steps);
            _prompts = plan.Scope is null ? null : plan.Prompts.ToDictionary(p => p.Index);
        }

        public RunPlanFile Plan { get; }

        public float[] Negative { get; }

        public Dictionary<int, PlanSegment> Segments { get; }

        public SegmentTree<PlanSegment> Tree { get; }

        /// <summary>A prompt of the plan, by its index in the run.</summary>
        public PlannedPrompt Prompt(int index) => _prompts is null ? Plan.Prompts[index] : _prompts[index];
    }

    private async Task<byte[]> ReadAsync(string container, string name) =>
        await store.ReadAsync(container, name) ?? throw new InvalidOperationException($"{container}/{name} is missing");

    private static string Mode(GenerationOptions options) => options.Mode.ToString().ToLowerInvariant();

    /// <summary>Width and height from a PNG's IHDR chunk.</summary>
    private static (int Width, int Height) PngSize(byte[] png) =>
        (System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)), System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)));

    /// <summary>Each segment's conditioning, written once by ConditionClusters (or its one prompt's, by EncodePrompts) and read back from the store, by node.</summary>
    private sealed class PreparedConditioning(Dictionary<int, float[]> byNode) : IConditioning
    {
        public float[] For(PlanSegment segment) => byNode[segment.Node];
    }
}
