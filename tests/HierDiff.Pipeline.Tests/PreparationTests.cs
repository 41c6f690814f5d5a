using System.Text;
using System.Text.Json;
using HierDiff.Core.Clustering;
using HierDiff.Core.Embeddings;

namespace HierDiff.Pipeline.Tests;

/// <summary>Preparing a run in bounded activities: prompts encoded in chunks, clusters conditioned part by part of
/// the tree. How the work is split never changes a byte of what it makes.</summary>
public sealed class PreparationTests : IDisposable
{
    private readonly TempDirectory _temp = new("hierdiff-prepare-");
    private readonly StableDiffusionModel _model;

    public PreparationTests()
    {
        _model = StableDiffusionModel.Load(TinyStableDiffusion.Write(_temp.Sub("model")), OnnxDevice.Cpu);
    }

    public void Dispose()
    {
        _model.Dispose();
        _temp.Dispose();
    }

    private static readonly string[] Prompts = [.. Enumerable.Range(0, 150).Select(i =>
        $"a {new[] { "red", "blue", "green", "white", "black" }[i % 5]} {new[] { "circle", "square", "triangle" }[i / 5 % 3]} number {i / 15}")];

    private static readonly GenerationOptions Options = new() { Steps = 4, TargetSavings = 0.5, Seed = 3 };

    /// <summary>A run's store after a whole run, and what went through it.</summary>
    private async Task<CountingStore> RunAsync(string name, PipelineSettings settings)
    {
        var store = new CountingStore(new LocalRunStore(_temp.Sub(name)));
        await store.WriteAsync(Containers.Prompts, "p.txt", Encoding.UTF8.GetBytes(string.Join('\n', Prompts)));
        RunOutcome outcome = await new LocalPipeline(store, () => _model, settings).RunAsync(new RunInput("r", "p.txt", Options));
        Assert.True(outcome.Succeeded, outcome.Error);
        return store;
    }

    private static Dictionary<string, byte[]> Files(CountingStore store, string container, string under) =>
        Directory.EnumerateFiles(Path.Combine(store.Root, container, under), "*", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}sums{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .ToDictionary(f => Path.GetRelativePath(store.Root, f), File.ReadAllBytes);

    [Fact]
    public async Task PreparingInManySmallActivitiesGivesTheSameConditioningAndImagesAsInFew()
    {
        CountingStore few = await RunAsync("few", new PipelineSettings());
        CountingStore many = await RunAsync("many", new PipelineSettings { PromptsPerChunk = 16, PromptsPerConditioning = 12 });

        // 150 prompts: one chunk against ten; one conditioning activity against several parts and the top.
        Assert.Equal(1, few.Reads("encodings/", ".tokens.json"));
        Assert.Equal(10, many.Reads("encodings/", ".tokens.json"));
        Assert.Equal(0, few.Writes("conditioning/sums/"));
        Assert.True(many.Writes("conditioning/sums/") > 2, $"{many.Writes("conditioning/sums/")} part sums");

        Dictionary<string, byte[]> conditioning = Files(few, Containers.Runs, "r/conditioning");
        Assert.True(conditioning.Count > 10, $"{conditioning.Count} cluster conditionings");
        Assert.Equal(conditioning, Files(many, Containers.Runs, "r/conditioning"));
        Assert.Equal(Files(few, Containers.Images, "r"), Files(many, Containers.Images, "r"));
    }

    [Fact]
    public async Task EachPromptsConditioningIsReadOnceToConditionTheClustersAndNeverAWholeChunkAtATime()
    {
        CountingStore store = await RunAsync("reads", new PipelineSettings { PromptsPerChunk = 32, PromptsPerConditioning = 20 });
        RunPlanFile plan = RunPlanFile.Parse((await store.ReadAsync(Containers.Runs, RunBlobs.Plan("r")))!);
        Assert.Equal(32, plan.PromptsPerChunk);
        Assert.Equal(_model.NegativeConditioning("").Length, plan.ConditioningLength);

        // Conditioning reads a prompt's range once; segment activities read the ranges of one-prompt segments.
        int single = plan.Segments.Count(s => s.Members.Length == 1);
        Assert.Equal(Prompts.Length + single, store.RangeReads("encodings/", ".conditioning.bin"));
        Assert.Equal(0, store.Reads("encodings/", ".conditioning.bin"));
        Assert.All(store.RangeLengths, length => Assert.Equal(plan.ConditioningLength * sizeof(float), length));
    }

    [Fact]
    public async Task AShardedTreeBuiltShardByShardInActivitiesIsTheTreeOfOneProcess()
    {
        var store = new CountingStore(new LocalRunStore(_temp.Sub("sharded")));
        await store.WriteAsync(Containers.Prompts, "p.txt", Encoding.UTF8.GetBytes(string.Join('\n', Prompts)));
        var options = Options with { MaxExact = 40 };
        var settings = new PipelineSettings { PromptsPerChunk = 32 };
        RunOutcome outcome = await new LocalPipeline(store, () => _model, settings).RunAsync(new RunInput("r", "p.txt", options));
        Assert.True(outcome.Succeeded, outcome.Error);
        RunPlanFile plan = RunPlanFile.Parse((await store.ReadAsync(Containers.Runs, RunBlobs.Plan("r")))!);
        int shards = plan.TreeBuild!.Shards;
        Assert.True(shards >= 4, $"{shards} shards");
        Assert.Equal(shards, store.Writes("shards/", ".tree.bin"));

        // The same prompts' cluster embeddings, the same tree in one call.
        var rows = new List<double>();
        foreach (string[] chunk in Prompts.Chunk(32))
        {
            rows.AddRange(_model.Encode(chunk).SelectMany(e => e.ClusterEmbedding.Select(v => (double)v)));
        }

        PromptTree whole = PromptTree.Build(new EmbeddingMatrix(Prompts.Length, rows.Count / Prompts.Length, [.. rows]), 40);
        Assert.Equal(whole.Tree.Rows.Select((r, i) => new TreeMerge(Prompts.Length + i, r.Left, r.Right, r.Height, r.Count)), plan.Tree);
        Assert.Equal(whole.Summary(), plan.TreeBuild);
    }

    [Fact]
    public async Task ThePromptFileIsStreamedIntoItsChunks_NeverReadWhole()
    {
        CountingStore store = await RunAsync("streamed", new PipelineSettings { PromptsPerChunk = 32 });
        Assert.Equal(1, store.Streams("", "p.txt"));
        Assert.Equal(0, store.Reads("", "p.txt"));
        Assert.Equal(5, store.Writes("r/prompts/", ".json"));
    }

    [Fact]
    public async Task AFaultFarIntoAStreamedPromptFileFailsTheRunNamingItsLine()
    {
        var store = new LocalRunStore(_temp.Sub("fault"));
        string[] lines = [.. Enumerable.Range(0, 3_000).Select(i => $"{Prompts[i % Prompts.Length]} {i}")];
        lines[2_500] = "a red circle\0";
        await store.WriteAsync(Containers.Prompts, "p.txt", Encoding.UTF8.GetBytes(string.Join('\n', lines)));
        RunOutcome outcome = await new LocalPipeline(store, () => _model).RunAsync(new RunInput("r", "p.txt", Options));
        Assert.Equal("p.txt:2501: NUL byte (is this a binary file?)", outcome.Error);
        using JsonDocument error = JsonDocument.Parse((await store.ReadAsync(Containers.Runs, RunBlobs.Error("r")))!);
        Assert.Equal(outcome.Error, error.RootElement.GetProperty("error").GetString());
    }

    [Fact]
    public async Task EachShardsActivitiesReadThatShardsPartOfThePlan_NeverTheWholePlan()
    {
        var store = new CountingStore(new LocalRunStore(_temp.Sub("parts")));
        await store.WriteAsync(Containers.Prompts, "p.txt", Encoding.UTF8.GetBytes(string.Join('\n', Prompts)));
        var options = Options with { Tau = 1_000, TargetSavings = null, MaxExact = 40 };
        Assert.True((await new LocalPipeline(store, () => _model).RunAsync(new RunInput("r", "p.txt", options))).Succeeded);
        RunPlanFile whole = RunPlanFile.Parse((await store.ReadAsync(Containers.Runs, RunBlobs.Plan("r")))!);
        RunPlanFile top = RunPlanFile.Parse((await store.ReadAsync(Containers.Runs, RunBlobs.PartPlan("r", -1)))!);
        RunPlanFile[] shards = [.. await Task.WhenAll(whole.ShardRoots.Select(async (_, s) => RunPlanFile.Parse((await store.ReadAsync(Containers.Runs, RunBlobs.PartPlan("r", s)))!)))];

        // The parts hold every segment once, and each shard part its own prompts.
        Assert.Equal(whole.Segments.Select(s => s.Node).Order(), top.Segments.Concat(shards.SelectMany(p => p.Segments)).Select(s => s.Node).Order());
        Assert.NotEmpty(top.Segments);
        Assert.Equal(Enumerable.Range(0, Prompts.Length), shards.SelectMany(p => p.Prompts).Select(p => p.Index).Order());
        Assert.All(shards, p => Assert.Equal(Prompts.Length, p.RunPromptCount()));
        Assert.Equal(shards.Length, top.ShardStarts.Count);

        // A worker that runs a shard's first batch and finishes the shard reads that shard's part, and not plan.json.
        var fresh = new CountingStore(new LocalRunStore(store.Root));
        var activities = new RunActivities(fresh, () => _model, new PipelineSettings());
        ShardStart start = top.ShardStarts[1];
        HistorySchedule schedule = await activities.ScheduleAsync(new SubtreeInput("r", [start.Source], Shard: start.Shard));
        ActivityReport report = await activities.RunSegmentsAsync(schedule.Batches[0].Batch);
        await activities.FinishShardAsync(new FinishShardInput("r", start.Shard, report));
        Assert.Equal(0, fresh.Reads("r/plan.json", ""));
        Assert.Equal(1, fresh.Reads($"r/shards/{start.Shard:D5}.plan.json", ""));
    }

    [Fact]
    public async Task StandardGenerationConditionsNoClusters()
    {
        var store = new CountingStore(new LocalRunStore(_temp.Sub("standard")));
        await store.WriteAsync(Containers.Prompts, "p.txt", Encoding.UTF8.GetBytes(string.Join('\n', Prompts[..20])));
        PreparedRun prepared = await new LocalPipeline(store, () => _model).PrepareAsync(new RunInput("r", "p.txt", new GenerationOptions { Steps = 3, Mode = GenerationMode.Standard }));
        Assert.Empty(prepared.ConditionParts);
        Assert.Equal(1, store.Writes("conditioning/"));
        Assert.Equal(1, store.Writes("conditioning/negative.bin"));
    }

    [Fact]
    public void PreparedRunsPartsTravelThroughTheOrchestrationsJson()
    {
        var prepared = new PreparedRun("r", null, 5, 4, 1, "ddim", 10, 20, 9) { ConditionParts = [3, 6] };
        PreparedRun back = JsonSerializer.Deserialize<PreparedRun>(JsonSerializer.Serialize(prepared))!;
        Assert.Equal([3, 6], back.ConditionParts);
        Assert.Equal(8, back.TreeRoot);
    }

    /// <summary>A local store that counts what goes through it, by name.</summary>
    private sealed class CountingStore(LocalRunStore inner) : IRunStore
    {

        private readonly List<(string Kind, string Name, int Length)> _log = [];

        public string Root => inner.Root;

        public IEnumerable<int> RangeLengths { get { lock (_log) { return [.. _log.Where(e => e.Kind == "range").Select(e => e.Length)]; } } }

        public int Reads(string under, string suffix) => Count("read", under, suffix);

        public int Streams(string under, string suffix) => Count("stream", under, suffix);

        public int RangeReads(string under, string suffix) => Count("range", under, suffix);

        public int Writes(string under, string suffix = "") => Count("write", under, suffix);

        private int Count(string kind, string under, string suffix)
        {
            lock (_log)
            {
                return _log.Count(e => e.Kind == kind && e.Name.Contains(under, StringComparison.Ordinal) && e.Name.EndsWith(suffix, StringComparison.Ordinal));
            }
        }

        private void Log(string kind, string name, int length = 0)
        {
            lock (_log)
            {
                _log.Add((kind, name, length));
            }
        }

        public Task WriteAsync(string container, string name, ReadOnlyMemory<byte> data, CancellationToken cancellation = default)
        {
            Log("write", name);
            return inner.WriteAsync(container, name, data, cancellation);
        }

        public Task<byte[]?> ReadAsync(string container, string name, CancellationToken cancellation = default)
        {
            Log("read", name);
            return inner.ReadAsync(container, name, cancellation);
        }

        public Task<Stream?> OpenReadAsync(string container, string name, CancellationToken cancellation = default)
        {
            Log("stream", name, 0);
            return inner.OpenReadAsync(container, name, cancellation);
        }

        public Task<byte[]> ReadRangeAsync(string container, string name, long offset, int length, CancellationToken cancellation = default)
        {
            Log("range", name, length);
            return inner.ReadRangeAsync(container, name, offset, length, cancellation);
        }

        public Task<string?> TagAsync(string container, string name, CancellationToken cancellation = default) => inner.TagAsync(container, name, cancellation);

        public Task<StoredBlob?> PropertiesAsync(string container, string name, CancellationToken cancellation = default) =>
            inner.PropertiesAsync(container, name, cancellation);
    }
}
