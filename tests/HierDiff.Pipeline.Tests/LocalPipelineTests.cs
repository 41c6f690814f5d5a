using System.Text;
using System.Text.Json;

namespace HierDiff.Pipeline.Tests;

/// <summary>The pipeline's orchestration and activities on one machine, over a local folder, on a tiny model.</summary>
public sealed class LocalPipelineTests : IDisposable
{
    private static readonly string[] Prompts = ShapePrompts.SevenInThreeGroups;

    private readonly TempDirectory _temp = new("hierdiff-pipeline-");
    private readonly StableDiffusionModel _model;

    public LocalPipelineTests()
    {
        _model = StableDiffusionModel.Load(TinyStableDiffusion.Write(_temp.Sub("model")), OnnxDevice.Cpu);
    }

    public void Dispose()
    {
        _model.Dispose();
        _temp.Dispose();
    }

    private LocalPipeline Pipeline(string name, out LocalRunStore store, int maxSubtreeCalls = PipelineSettings.DefaultMaxSubtreeCalls)
    {
        store = new LocalRunStore(_temp.Sub(name));
        return new LocalPipeline(store, () => _model, new PipelineSettings { PricePerGpuSecond = 0.001, MaxSubtreeCalls = maxSubtreeCalls });
    }

    private static async Task Upload(IRunStore store, string name, string text) =>
        await store.WriteAsync(Containers.Prompts, name, Encoding.UTF8.GetBytes(text));

    private static async Task<RunPlanFile> PlanAsync(IRunStore store, string run) =>
        RunPlanFile.Parse((await store.ReadAsync(Containers.Runs, RunBlobs.Plan(run)))!);

    private static async Task<byte[][]> Images(IRunStore store, string run, int count) =>
        await Task.WhenAll(Enumerable.Range(0, count).Select(async i => (await store.ReadAsync(Containers.Images, RunBlobs.Image(run, i, count)))!));

    [Fact]
    public async Task ARunWritesAnImagePerPromptAndAManifestWithGpuSeconds()
    {
        LocalPipeline pipeline = Pipeline("store", out LocalRunStore store);
        await Upload(store, "batch/p.txt", string.Join('\n', Prompts));
        RunOutcome outcome = await pipeline.RunAsync(new RunInput("run1", "batch/p.txt", new GenerationOptions { Steps = 6, TargetSavings = 0.4 }));

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.All(await Images(store, "run1", Prompts.Length), png => Assert.NotNull(png));
        using JsonDocument manifest = JsonDocument.Parse((await store.ReadAsync(Containers.Runs, RunBlobs.Manifest("run1")))!);
        JsonElement m = manifest.RootElement;
        Assert.Equal(Prompts.Length, m.GetProperty("prompts").GetArrayLength());
        Assert.True(m.GetProperty("savings").GetDouble() >= 0.4);
        // The tiny export names PNDMScheduler: the run uses it, and its 6 steps are 7 denoiser calls.
        Assert.Equal("pndm", m.GetProperty("scheduler").GetString());
        Assert.Equal("model", m.GetProperty("scheduler_from").GetString());
        Assert.Equal(Prompts.Length * 7, m.GetProperty("standard_denoiser_calls").GetInt64());
        JsonElement gpu = m.GetProperty("gpu");
        Assert.True(gpu.GetProperty("model_busy_seconds").GetDouble() > 0);
        Assert.True(gpu.GetProperty("activity_wall_seconds").GetDouble() >= gpu.GetProperty("model_busy_seconds").GetDouble());
        Assert.True(gpu.GetProperty("standard_estimate_seconds").GetDouble() > gpu.GetProperty("model_busy_seconds").GetDouble() * 0.9);

        // One process ran every activity: its busy time is at most the run's wall time, however they overlapped.
        Assert.Equal(1, gpu.GetProperty("workers").GetInt32());
        Assert.InRange(gpu.GetProperty("gpu_seconds").GetDouble(), gpu.GetProperty("model_busy_seconds").GetDouble() * 0.5, m.GetProperty("timings").GetProperty("total_s").GetDouble());
        Assert.Equal(gpu.GetProperty("gpu_seconds").GetDouble() * 0.001, gpu.GetProperty("cost").GetDouble(), 12);
    }

    [Fact]
    public async Task TheSameInputsGiveTheSameBytesAndTauZeroGivesStandardPixels()
    {
        LocalPipeline pipeline = Pipeline("store", out LocalRunStore store);
        await Upload(store, "p.txt", string.Join('\n', Prompts));
        var options = new GenerationOptions { Steps = 5, Tau = 1.0 };
        Assert.True((await pipeline.RunAsync(new RunInput("a", "p.txt", options))).Succeeded);
        Assert.True((await pipeline.RunAsync(new RunInput("b", "p.txt", options))).Succeeded);
        Assert.Equal(await Images(store, "a", Prompts.Length), await Images(store, "b", Prompts.Length));

        // With tau = 0 every prompt runs alone from its own noise: the images are standard generation's.
        Assert.True((await pipeline.RunAsync(new RunInput("t0", "p.txt", options with { Tau = 0 }))).Succeeded);
        Assert.True((await pipeline.RunAsync(new RunInput("std", "p.txt", options with { Mode = GenerationMode.Standard }))).Succeeded);
        byte[][] t0 = await Images(store, "t0", Prompts.Length);
        byte[][] std = await Images(store, "std", Prompts.Length);
        for (int i = 0; i < Prompts.Length; i++)
        {
            Assert.Equal(PngFiles.Pixels(std[i]), PngFiles.Pixels(t0[i]));
        }
    }

    [Fact]
    public async Task ASegmentActivityRunTwiceWritesTheSameBytes()
    {
        LocalPipeline pipeline = Pipeline("store", out LocalRunStore store);
        await Upload(store, "p.txt", string.Join('\n', Prompts));
        var activities = new RunActivities(store, () => _model, new PipelineSettings());
        await pipeline.PrepareAsync(new RunInput("r", "p.txt", new GenerationOptions { Steps = 6, Tau = 1.0 }));
        HierDiff.Core.Planning.PlanSegment first = (await PlanAsync(store, "r")).Segments.First(s => s.Source == -1 && s.End < 6);
        var batch = new SegmentBatch("r", -1, first.Start, first.End, [first.Node]);
        await activities.RunSegmentsAsync(batch);
        byte[] once = (await store.ReadAsync(Containers.Runs, RunBlobs.Trajectory("r", first.Node)))!;
        await activities.RunSegmentsAsync(batch);
        Assert.Equal(once, await store.ReadAsync(Containers.Runs, RunBlobs.Trajectory("r", first.Node)));
    }

    [Theory]
    [InlineData("", "p.txt:1: the prompt file is empty")]
    [InlineData("a\nb\0", "p.txt:2: NUL byte")]
    public async Task BadPromptFilesFailTheRunWithTheReasonAndLoseNothing(string content, string reason)
    {
        LocalPipeline pipeline = Pipeline("store", out LocalRunStore store);
        await Upload(store, "p.txt", content);
        RunOutcome outcome = await pipeline.RunAsync(new RunInput("bad", "p.txt", new GenerationOptions { Steps = 4 }));
        Assert.False(outcome.Succeeded);
        Assert.StartsWith(reason, outcome.Error);
        using JsonDocument error = JsonDocument.Parse((await store.ReadAsync(Containers.Runs, RunBlobs.Error("bad")))!);
        Assert.StartsWith(reason, error.RootElement.GetProperty("error").GetString());
        Assert.Equal(Encoding.UTF8.GetBytes(content), await store.ReadAsync(Containers.Prompts, "p.txt"));
        Assert.False(Directory.Exists(Path.Combine(store.Root, Containers.Images, "bad")));
        Assert.Null(await store.ReadAsync(Containers.Runs, RunBlobs.Manifest("bad")));
    }

    [Fact]
    public async Task AMissingPromptFileFailsTheRun()
    {
        LocalPipeline pipeline = Pipeline("store", out _);
        RunOutcome outcome = await pipeline.RunAsync(new RunInput("none", "missing.txt", new GenerationOptions { Steps = 4 }));
        Assert.Equal("prompts/missing.txt: no such prompt file", outcome.Error);
    }

    [Fact]
    public async Task BigTreesRunPartlyInSubOrchestrationsWithTheSameImages()
    {
        // A history limit of 40 activities: the biggest subtrees must go to sub-orchestrations.
        var random = new Random(3);
        string[] words = ["red", "blue", "green", "yellow", "white", "black", "purple", "orange"];
        string[] prompts = Enumerable.Range(0, 160)
            .Select(i => $"a {words[i % 8]} {(i / 8 % 3 == 0 ? "circle" : i / 8 % 3 == 1 ? "square" : "triangle")} number {i} on a {words[(i / 24) % 8]} background")
            .ToArray();
        // Every segment batch its own activity (no subtree runs whole), so the tree is big in activities too.
        LocalPipeline pipeline = Pipeline("store", out LocalRunStore store, maxSubtreeCalls: 0);
        await Upload(store, "big.txt", string.Join('\n', prompts));
        var activities = new RunActivities(store, () => _model, new PipelineSettings { MaxSubtreeCalls = 0 });
        PreparedRun prepared = await pipeline.PrepareAsync(new RunInput("probe", "big.txt", new GenerationOptions { Steps = 4, TargetSavings = 0.3 }));
        Assert.True(prepared.SegmentCount > 100, $"{prepared.SegmentCount} segments");

        var calls = new List<string>();
        var context = new RecordingContext(activities, calls);
        RunOutcome outcome = await RunOrchestration.RunAsync(
            context, new RunInput("big", "big.txt", new GenerationOptions { Steps = 4, TargetSavings = 0.3 }), () => 0, maxActivitiesPerHistory: 40);
        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Contains(RunFunctions.SubtreeOrchestrator, calls);
        Assert.True(context.MostActivitiesInOneHistory <= 40, $"{context.MostActivitiesInOneHistory} activities in one history");

        // The status a poll sees: 0 of 160 once planned, then rising with each activity and sub-orchestration to all.
        Assert.Equal(new RunProgress(0, prompts.Length), context.Progress[0]);
        Assert.Equal(new RunProgress(prompts.Length, prompts.Length), context.Progress[^1]);
        Assert.True(context.Progress.Count > 2);
        Assert.All(context.Progress.Zip(context.Progress.Skip(1)), p => Assert.True(p.Second.ImagesDone > p.First.ImagesDone));
        Assert.True((await pipeline.RunAsync(new RunInput("flat", "big.txt", new GenerationOptions { Steps = 4, TargetSavings = 0.3 }))).Succeeded);
        Assert.Equal(await Images(store, "flat", prompts.Length), await Images(store, "big", prompts.Length));
    }

    [Fact]
    public async Task EachShardRunsInASubOrchestrationOfItsOwnAndWritesItsManifest()
    {
        string[] words = ["red", "blue", "green", "yellow", "white", "black", "purple", "orange"];
        string[] prompts = [.. Enumerable.Range(0, 160).Select(i => $"a {words[i % 8]} {(i / 8 % 3 == 0 ? "circle" : "square")} number {i} on a {words[i / 24 % 8]} background")];
        LocalPipeline pipeline = Pipeline("shards", out LocalRunStore store);
        await Upload(store, "p.txt", string.Join('\n', prompts));
        var calls = new List<string>();
        var context = new RecordingContext(new RunActivities(store, () => _model, new PipelineSettings()), calls);
        // A tau above every merge: the root is shared from the first step, so the top tree has segments of its own.
        var options = new GenerationOptions { Steps = 4, Tau = 1_000, MaxExact = 40 };
        RunOutcome outcome = await RunOrchestration.RunAsync(context, new RunInput("r", "p.txt", options), () => 0);
        Assert.True(outcome.Succeeded, outcome.Error);

        // Each node's shard: a shard is the subtree below its root; a node above several is the top tree's (-1).
        RunPlanFile plan = await PlanAsync(store, "r");
        Core.Clustering.Linkage tree = plan.Linkage()!;
        int[][] members = [.. plan.ShardRoots.Select(root => tree.Leaves(root).Order().ToArray())];
        int[] shardOf = new int[prompts.Length];
        for (int s = 0; s < members.Length; s++)
        {
            members[s].ToList().ForEach(p => shardOf[p] = s);
        }

        int ShardOf(int node)
        {
            int[] leaves = tree.Leaves(node);
            return leaves.Length <= members[shardOf[leaves[0]]].Length ? shardOf[leaves[0]] : -1;
        }

        Assert.Equal(5, members.Length);
        Assert.Contains(plan.Segments, s => ShardOf(s.Node) == -1);

        // One shard orchestration a shard; every batch's nodes, and what runs below them in it, are of the batch's shard.
        Assert.Equal(Enumerable.Range(0, 5), context.Inputs.Select((input, i) => (input, calls[i])).Where(c => c.Item2 == RunFunctions.ShardOrchestrator).Select(c => ((SubtreeInput)c.input).Shard).Order());
        SegmentBatch[] batches = [.. context.Inputs.OfType<SegmentBatch>()];
        Assert.Contains(batches, b => b.Shard == -1);
        Assert.All(batches, b => Assert.All(b.Nodes, n => Assert.Equal(b.Shard, ShardOf(n))));

        // manifest.json is the summary; each shard's manifest lists its own prompts, and together they list each once.
        var summary = GenerationManifest.Parse((await store.ReadAsync(Containers.Runs, RunBlobs.Manifest("r")))!);
        Assert.Empty(summary.Prompts);
        Assert.Equal(5, summary.Shards!.Count);
        Assert.All(summary.Shards, s => Assert.Equal("succeeded", s.Status));
        Assert.Equal(summary.DenoiserCalls, summary.SharedDenoiserCalls + summary.Shards.Sum(s => s.DenoiserCalls));
        Assert.True(summary.SharedDenoiserCalls > 0);
        Assert.Equal(prompts.Length, summary.Shards.Sum(s => s.Images));
        var listed = new List<int>();
        foreach (ManifestShard s in summary.Shards)
        {
            var shard = ShardManifestFile.Parse((await store.ReadAsync(Containers.Runs, $"r/{s.Manifest}"))!);
            Assert.Equal(members[s.Shard], shard.Prompts.Select(p => p.Index));
            Assert.Equal(plan.ShardRoots[s.Shard], shard.Root);
            Assert.Equal(shard.Prompts.Select(p => p.Image), shard.Images);
            Assert.Equal(s.Prompts * 5L, shard.StandardDenoiserCalls);
            listed.AddRange(shard.Prompts.Select(p => p.Index));
        }

        Assert.Equal(Enumerable.Range(0, prompts.Length), listed.Order());
        Assert.Equal(new RunProgress(prompts.Length, prompts.Length, 5, 5), context.Progress[^1]);
    }

    [Fact]
    public async Task AShardThatFailsIsRecordedFailedInItsManifestWhileTheOtherShardsFinish()
    {
        string[] prompts = [.. Enumerable.Range(0, 120).Select(i => $"a {Prompts[i % Prompts.Length]} number {i / 6}")];
        LocalPipeline pipeline = Pipeline("failing-shard", out LocalRunStore store);
        await Upload(store, "p.txt", string.Join('\n', prompts));
        var calls = new List<string>();
        var context = new RecordingContext(
            new RunActivities(store, () => _model, new PipelineSettings()), calls, failing: b => b.Shard == 1 ? "a latent turned non-finite in shard 1" : null);
        RunOutcome outcome = await RunOrchestration.RunAsync(context, new RunInput("r", "p.txt", new GenerationOptions { Steps = 3, TargetSavings = 0.3, MaxExact = 40 }), () => 0);

        Assert.False(outcome.Succeeded);
        Assert.Equal("a latent turned non-finite in shard 1", outcome.Error);
        RunPlanFile plan = await PlanAsync(store, "r");
        Assert.Equal(4, plan.ShardRoots.Count);
        for (int s = 0; s < plan.ShardRoots.Count; s++)
        {
            var shard = ShardManifestFile.Parse((await store.ReadAsync(Containers.Runs, RunBlobs.ShardManifest("r", s)))!);
            Assert.Equal(s == 1 ? "failed" : "succeeded", shard.Status);
            Assert.Equal(s == 1 ? outcome.Error : null, shard.Error);
            if (s != 1)
            {
                // The other shards made every image of theirs.
                Assert.All(shard.Prompts, p => Assert.True(File.Exists(Path.Combine(store.Root, Containers.Images, RunBlobs.Image("r", p.Index, prompts.Length)))));
            }
        }

        Assert.Null(await store.ReadAsync(Containers.Runs, RunBlobs.Manifest("r")));
    }

    [Fact]
    public async Task NoMessageThroughTheOrchestrationGrowsWithTheRunsSegments()
    {
        // 3,000 prompts: their segments' specs alone would be about 30 bytes each, more than the 64 KB allowed here
        // (the Durable Task Scheduler takes 1 MiB; 20,000 prompts would pass it).
        string[] prompts = [.. Enumerable.Range(0, 3_000).Select(i => $"a {Prompts[i % Prompts.Length]} number {i / 7}")];
        LocalPipeline pipeline = Pipeline("messages", out LocalRunStore store);
        await Upload(store, "many.txt", string.Join('\n', prompts));
        var context = new RecordingContext(new RunActivities(store, () => _model, new PipelineSettings()), []);
        RunOutcome outcome = await RunOrchestration.RunAsync(context, new RunInput("many", "many.txt", new GenerationOptions { Steps = 2, TargetSavings = 0.3 }), () => 0);
        Assert.True(outcome.Succeeded, outcome.Error);
        int segments = (await PlanAsync(store, "many")).Segments.Count;
        Assert.True(segments * 30 > 64 * 1024, $"{segments} segments");
        Assert.InRange(context.LargestMessage, 1, 64 * 1024);
    }

    [Fact]
    public async Task SmallSubtreesRunInOneActivityEachWithTheSameImages()
    {
        // One item per model call, so how segments are batched cannot change a bit: running subtrees whole may
        // change only the number of activities.
        var options = new GenerationOptions { Steps = 6, Tau = 1.0, MaxBatch = 1 };
        var images = new List<byte[][]>();
        var activityCounts = new List<int>();
        foreach (int maxSubtreeCalls in new[] { 0, 12, int.MaxValue })
        {
            var store = new LocalRunStore(_temp.Sub($"store-{maxSubtreeCalls}"));
            await Upload(store, "p.txt", string.Join('\n', Prompts));
            var calls = new List<string>();
            var context = new RecordingContext(new RunActivities(store, () => _model, new PipelineSettings { MaxSubtreeCalls = maxSubtreeCalls }), calls);
            RunOutcome outcome = await RunOrchestration.RunAsync(context, new RunInput("r", "p.txt", options), () => 0);
            Assert.True(outcome.Succeeded, outcome.Error);
            images.Add(await Images(store, "r", Prompts.Length));
            activityCounts.Add(calls.Count(c => c == RunFunctions.Segments));
        }

        Assert.Equal(images[0], images[1]);
        Assert.Equal(images[0], images[2]);
        Assert.True(activityCounts[0] > activityCounts[1] && activityCounts[1] > activityCounts[2], string.Join(", ", activityCounts));

        // Without a limit, the roots and everything below them pack into one activity.
        Assert.Equal(1, activityCounts[2]);
    }

    /// <summary>An in-process host that records which functions the orchestration calls, and how many activities each
    /// history (the orchestration, each sub-orchestration) holds.</summary>
    private sealed class RecordingContext(
        RunActivities activities, List<string> calls, int[]? most = null, List<object>? inputs = null, Func<SegmentBatch, string?>? failing = null) : IRunContext
    {
        /// <summary>Every function's input, in the order of <c>calls</c> (shared with the sub-orchestrations).</summary>
        public List<object> Inputs { get; } = inputs ?? [];

        // Shared with the sub-orchestrations' contexts: the most activities in one history, the largest message.
        private readonly int[] _most = most ?? [0, 0];
        private int _events;

        public int MostActivitiesInOneHistory => _most[0];

        /// <summary>The largest input or result that went through any history, as JSON bytes.</summary>
        public int LargestMessage => _most[1];

        /// <summary>What this history reported, in order.</summary>
        public List<RunProgress> Progress { get; } = [];

        public void SetProgress(RunProgress progress) => Progress.Add(progress);

        public async Task<TResult> CallActivityAsync<TResult>(string name, object input)
        {
            Record(name, input);
            // A batch the test fails is reported as the activity reports a latent that turned non-finite.
            object result = input is SegmentBatch batch && failing?.Invoke(batch) is string error
                ? new ActivityReport(0, 0, 0, 0, Error: error)
                : await activities.CallAsync(name, input);
            Measure(result);
            return (TResult)result;
        }

        public async Task<TResult> CallSubOrchestrationAsync<TResult>(string name, object input)
        {
            Record(name, input);
            var history = new RecordingContext(activities, calls, _most, Inputs, failing);
            ActivityReport result = name == RunFunctions.ShardOrchestrator
                ? await RunOrchestration.RunShardAsync(history, (SubtreeInput)input)
                : await RunOrchestration.RunChildrenAsync(history, (SubtreeInput)input);
            Measure(result);
            return (TResult)(object)result;
        }

        private void Record(string name, object input)
        {
            lock (calls)
            {
                calls.Add(name);
                Inputs.Add(input);
                _events++;
                _most[0] = Math.Max(_most[0], _events);
            }

            Measure(input);
        }

        private void Measure(object message)
        {
            int bytes = JsonSerializer.SerializeToUtf8Bytes(message, message.GetType()).Length;
            lock (calls)
            {
                _most[1] = Math.Max(_most[1], bytes);
            }
        }
    }

    [Theory]
    [InlineData("../../etc/passwd")]
    [InlineData("/abs/path.txt")]
    [InlineData("a/../../b.txt")]
    [InlineData("a\\b.txt")]
    [InlineData("")]
    [InlineData("a//b.txt")]
    [InlineData("a/./b.txt")]
    [InlineData("a/.../b.txt")]
    [InlineData("C:\\x.txt")]
    [InlineData("c:x.txt")]
    [InlineData("a\u0000b.txt")]
    [InlineData("a\nb.txt")]
    [InlineData("a\u202Eb.txt")] // right-to-left override
    [InlineData("a\u200Bb.txt")] // zero-width space
    [InlineData("a\u2025/b.txt")] // two-dot leader
    [InlineData("a\uFF0F..\uFF0Fb.txt")] // fullwidth solidus
    [InlineData("a\uFF3Cb.txt")] // fullwidth reverse solidus
    [InlineData("%2e%2e/b.txt")]
    [InlineData("a#b.txt")]
    [InlineData("a?b.txt")]
    [InlineData(" lead.txt")]
    [InlineData("trail.txt ")]
    public void NamesFromUsersNeverLeaveTheirContainer(string name) =>
        Assert.Throws<HierDiff.Core.HierDiffInputException>(() => StoreNames.Check(name));

    [Fact]
    public void ALoneSurrogateIsNotAName() =>
        Assert.Throws<HierDiff.Core.HierDiffInputException>(() => StoreNames.Check(new string(['a', '\uD800', '.', 't', 'x', 't'])));

    /// <summary>File names people give prompt files: the command line stores them as {run}/{file name}.</summary>
    [Theory]
    [InlineData("prompts (1).txt")]
    [InlineData("café.txt")]
    [InlineData("cafe\u0301.txt")] // decomposed, as macOS writes it
    [InlineData("prompts+v2.txt")]
    [InlineData("a,b.txt")]
    [InlineData("x'y.txt")]
    [InlineData("\"quoted\".txt")]
    [InlineData("[draft] prompts {2} & more!.txt")]
    [InlineData("Ω/日本語のプロンプト.txt")]
    [InlineData("emoji \U0001F600.txt")]
    [InlineData("it\u2019s.txt")]
    public async Task OrdinaryFileNamesArePromptFilesOnTheCommandLinesHost(string name)
    {
        Assert.Equal(name, StoreNames.Check(name));
        LocalPipeline pipeline = Pipeline("names", out LocalRunStore store);
        string blob = $"run-names/{name}";
        await Upload(store, blob, string.Join('\n', Prompts[..2]));
        RunOutcome outcome = await pipeline.RunAsync(new RunInput("run-names", blob, new GenerationOptions { Steps = 2 }));
        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.True(File.Exists(Path.Combine(store.Root, Containers.Prompts, "run-names", name)));
    }

    [Fact]
    public async Task AnotherModelFamilyRunsThroughThePipelineUnchanged()
    {
        // A family whose denoiser takes four inputs, plugged in through the seam alone.
        var family = new TwoTowerTestFamily();
        var store = new LocalRunStore(_temp.Sub("family"));
        var pipeline = new LocalPipeline(store, () => family, new PipelineSettings { MaxSubtreeCalls = 0 });
        await Upload(store, "p.txt", string.Join('\n', Prompts));

        RunOutcome shared = await pipeline.RunAsync(new RunInput("shared", "p.txt", new GenerationOptions { Steps = 8, TargetSavings = 0.4 }));
        RunOutcome alone = await pipeline.RunAsync(new RunInput("alone", "p.txt", new GenerationOptions { Steps = 8, Tau = 0 }));
        RunOutcome standard = await pipeline.RunAsync(new RunInput("standard", "p.txt", new GenerationOptions { Steps = 8, Mode = GenerationMode.Standard }));

        Assert.True(shared.Succeeded && alone.Succeeded && standard.Succeeded, shared.Error ?? alone.Error ?? standard.Error);
        using JsonDocument manifest = JsonDocument.Parse((await store.ReadAsync(Containers.Runs, RunBlobs.Manifest("shared")))!);
        Assert.Equal("two-tower-test", manifest.RootElement.GetProperty("model").GetString());
        Assert.Equal(4, manifest.RootElement.GetProperty("width").GetInt32());
        Assert.True(manifest.RootElement.GetProperty("savings").GetDouble() >= 0.4);
        RunPlanFile plan = RunPlanFile.Parse((await store.ReadAsync(Containers.Runs, RunBlobs.Plan("shared")))!);
        Assert.Equal(Prompts.Length - 1, plan.Tree.Count);
        Assert.Contains(plan.Segments, s => s.Start > 0);

        // The invariants hold for it as for Stable Diffusion: tau = 0 is standard generation, bit for bit, and
        // sharing changes the images of prompts that shared steps.
        byte[][] alonePngs = await Images(store, "alone", Prompts.Length);
        byte[][] standardPngs = await Images(store, "standard", Prompts.Length);
        byte[][] sharedPngs = await Images(store, "shared", Prompts.Length);
        for (int i = 0; i < Prompts.Length; i++)
        {
            Assert.Equal(PngFiles.Pixels(standardPngs[i]), PngFiles.Pixels(alonePngs[i]));
        }

        Assert.Contains(Enumerable.Range(0, Prompts.Length), i => !PngFiles.Pixels(sharedPngs[i]).SequenceEqual(PngFiles.Pixels(standardPngs[i])));
    }

    [Fact]
    public async Task ASegmentOnAWorkerWithAnotherModelFailsInsteadOfContinuingWithIt()
    {
        var store = new LocalRunStore(_temp.Sub("mixed"));
        await Upload(store, "p.txt", string.Join('\n', Prompts));
        await new LocalPipeline(store, () => _model).PrepareAsync(new RunInput("r", "p.txt", new GenerationOptions { Steps = 4 }));
        HierDiff.Core.Planning.PlanSegment first = (await PlanAsync(store, "r")).Segments.First(s => s.Source == -1);

        var other = new RunActivities(store, () => new TwoTowerTestFamily(), new PipelineSettings());
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => other.RunSegmentsAsync(new SegmentBatch("r", -1, first.Start, first.End, [first.Node])));
        Assert.Contains("was planned with model model", e.Message);
    }
}
