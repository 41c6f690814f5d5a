using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using HierDiff.Core;
using HierDiff.Core.Clustering;
using HierDiff.Core.Embeddings;
using HierDiff.Core.Planning;
using HierDiff.Core.Prompts;
using HierDiff.Core.Runs;
using HierDiff.Core.Sampling;
using HierDiff.Models;
using HierDiff.Models.Pipelines;
using HierDiff.Pipeline.Orchestration;
using HierDiff.Pipeline.Storage;

namespace HierDiff.Pipeline.Activities;

// Preparing a run, in activities that each hold a bounded part of it:
//   PrepareRun             read and check the prompt file and the options; store the prompts in chunks
//   EncodePrompts x chunks encode a chunk: its conditioning, cluster embeddings and tokens
//   PlanRun                the tree (sharded above max_exact) and the plan, from the cluster embeddings alone
//   ConditionClusters      each cluster's mean conditioning, summed exactly part by part of the tree, then above them
// No activity holds every prompt's conditioning (236 KB a prompt for Stable Diffusion 1.5).
public sealed partial class RunActivities
{
    private const int ReadsInFlight = 16;

    /// <summary>Reads and checks the prompt file and the options, and stores the prompts in chunks of
    /// <see cref="PipelineSettings.PromptsPerChunk"/>. Bad input fails the run with its reason in
    /// runs/{run}/error.json; the prompt file is never touched.</summary>
    public async Task<PromptChunks> PrepareAsync(RunInput input)
    {
        string run = StoreNames.CheckRunId(input.RunId);
        _runs.TryRemove(run, out _);
        try
        {
            PromptSet set = await ReadPromptsAsync(input);
            int perChunk = settings.PromptsPerChunk;
            int chunks = (set.Count + perChunk - 1) / perChunk;
            await Parallel.ForEachAsync(Enumerable.Range(0, chunks), new ParallelOptions { MaxDegreeOfParallelism = ReadsInFlight }, async (c, cancel) =>
            {
                string[] texts = [.. set.Prompts.Skip(c * perChunk).Take(perChunk).Select(p => p.Text)];
                await store.WriteAsync(Containers.Runs, RunBlobs.PromptChunk(run, c), JsonSerializer.SerializeToUtf8Bytes(texts, _json), cancel);
            });
            return new PromptChunks(run, null, set.Count, chunks, perChunk);
        }
        catch (HierDiffInputException e)
        {
            await FailAsync(run, e.Message);
            return new PromptChunks(run, e.Message, 0, 0, 0);
        }
    }

    /// <summary>Encodes one chunk of the prompts and stores its conditioning, cluster embeddings and tokens.</summary>
    public async Task<EncodedChunk> EncodeAsync(EncodeInput input)
    {
        string run = StoreNames.CheckRunId(input.RunId);
        string[] texts = JsonSerializer.Deserialize<string[]>(await ReadAsync(Containers.Runs, RunBlobs.PromptChunk(run, input.Chunk)), _json)!;
        var clock = Stopwatch.StartNew();
        IReadOnlyList<PromptEncoding> encoded = model().Encode(texts);
        double seconds = clock.Elapsed.TotalSeconds;
        await Task.WhenAll(
            store.WriteAsync(Containers.Runs, RunBlobs.ChunkConditioning(run, input.Chunk), Concatenate([.. encoded.Select(e => e.Conditioning)])),
            store.WriteAsync(Containers.Runs, RunBlobs.ChunkClusterEmbeddings(run, input.Chunk), Concatenate([.. encoded.Select(e => e.ClusterEmbedding)])),
            store.WriteAsync(
                Containers.Runs,
                RunBlobs.ChunkTokens(run, input.Chunk),
                JsonSerializer.SerializeToUtf8Bytes(new ChunkTokens([.. encoded.Select(e => e.TokenCount)], [.. encoded.Select(e => e.Truncated)]), _json)));
        return new EncodedChunk(input.Chunk, seconds);
    }

    /// <summary>Builds the tree and the plan from the chunks' cluster embeddings and stores plan.json and the negative
    /// conditioning. What it holds is the embeddings and one shard's distances, never the prompts' conditioning.</summary>
    public async Task<PreparedRun> PlanAsync(PlanInput input)
    {
        string run = StoreNames.CheckRunId(input.Run.RunId);
        _runs.TryRemove(run, out _);
        try
        {
            return await PlanCheckedAsync(run, input);
        }
        catch (HierDiffInputException e)
        {
            await FailAsync(run, e.Message);
            return new PreparedRun(run, e.Message, 0, input.Run.Options.Steps, 0, "", 0, 0, 0);
        }
    }

    /// <summary>Writes the mean conditioning of every cluster of several prompts below <see cref="ConditionInput.Root"/>,
    /// summing the prompts' conditioning exactly up the tree (the sums of <see cref="ConditionInput.Stops"/> are
    /// read), and stores the root's sum when an activity above it needs it. It holds a few sums at a time
    /// (<see cref="ClusterSums"/>) and reads each prompt's conditioning once.</summary>
    public async Task<ConditionedClusters> ConditionAsync(ConditionInput input)
    {
        var clock = Stopwatch.StartNew();
        string run = StoreNames.CheckRunId(input.RunId);
        RunData data = await ReadRunAsync(run);
        RunPlanFile plan = data.Plan;
        Linkage tree = plan.Linkage() ?? throw new InvalidOperationException($"run {run} has no prompt tree to condition");
        HashSet<int> stops = [.. input.Stops];
        int[] order = ClusterSums.PostOrder(tree, input.Root, stops);

        // The prompts and stops in the order the walk takes them, read ahead a few at a time.
        int[] loads = [.. order.Where(n => tree.IsLeaf(n) || stops.Contains(n))];
        var reads = new Queue<Task<byte[]>>();
        int next = 0;
        void ReadAhead()
        {
            while (reads.Count < ReadsInFlight && next < loads.Length)
            {
                int node = loads[next++];
                reads.Enqueue(stops.Contains(node) ? ReadAsync(Containers.Runs, RunBlobs.ConditioningSum(run, node)) : ReadPromptConditioningAsync(plan, node));
            }
        }

        var writes = new List<Task>();
        int clusters = 0;
        ExactSum rootSum = await ClusterSums.WalkAsync(
            tree,
            order,
            stops,
            plan.ConditioningLength,
            async (node, sum) =>
            {
                ReadAhead();
                byte[] bytes = await reads.Dequeue();
                if (stops.Contains(node))
                {
                    sum.Read(bytes);
                }
                else
                {
                    sum.Add(MemoryMarshal.Cast<byte, float>(bytes));
                }
            },
            async (node, sum) =>
            {
                if (!stops.Contains(node) && data.Segments.TryGetValue(node, out PlanSegment? segment) && segment.Members.Length > 1)
                {
                    writes.Add(store.WriteAsync(Containers.Runs, RunBlobs.Conditioning(run, node), FloatBlobs.ToBytes(sum.Mean())));
                    clusters++;
                    if (writes.Count >= ReadsInFlight)
                    {
                        await Task.WhenAll(writes);
                        writes.Clear();
                    }
                }
            });
        if (input.Root != tree.Root)
        {
            writes.Add(store.WriteAsync(Containers.Runs, RunBlobs.ConditioningSum(run, input.Root), rootSum.ToBytes()));
        }

        await Task.WhenAll(writes);
        return new ConditionedClusters(clusters, clock.Elapsed.TotalSeconds);
    }

    /// <summary>One prompt's conditioning, out of its chunk's.</summary>
    private Task<byte[]> ReadPromptConditioningAsync(RunPlanFile plan, int prompt)
    {
        int bytes = plan.ConditioningLength * sizeof(float);
        return store.ReadRangeAsync(
            Containers.Runs, RunBlobs.ChunkConditioning(plan.RunId, prompt / plan.PromptsPerChunk), (long)(prompt % plan.PromptsPerChunk) * bytes, bytes);
    }

    private async Task<PromptSet> ReadPromptsAsync(RunInput input)
    {
        GenerationOptions options = input.Options ?? throw new HierDiffInputException("the run has no options");
        string blob = StoreNames.Check(input.PromptsBlob, "prompt file");
        string container = input.PromptsContainer is Containers.Prompts or Containers.Runs
            ? input.PromptsContainer
            : throw new HierDiffInputException($"prompt files are read from the {Containers.Prompts} container, not '{input.PromptsContainer}'");
        // The size first: a file over the limit is refused without being read (a worker has a few GiB at most).
        StoredBlob stored = await store.PropertiesAsync(container, blob)
            ?? throw new HierDiffInputException($"{container}/{blob}: no such prompt file");
        if (stored.Size > settings.Limits.MaxFileBytes)
        {
            throw new HierDiffInputException(
                $"{container}/{blob}: the prompt file is {stored.Size:N0} bytes; the limit is {settings.Limits.MaxFileBytes:N0} bytes ({PromptFileLimits.Setting("MaxPromptFileBytes")})");
        }

        byte[] bytes = await store.ReadAsync(container, blob)
            ?? throw new HierDiffInputException($"{container}/{blob}: no such prompt file");
        PromptSet set = PromptFileReader.Parse(bytes, input.PromptsName ?? blob, settings.Limits);

        // The one check of the options, for every host, with the prompt count that bounds a savings target.
        options.Validate(set.Count, settings.Limits.MaxPromptLength);
        return set;
    }

    private async Task<PreparedRun> PlanCheckedAsync(string run, PlanInput input)
    {
        GenerationOptions options = input.Run.Options;
        PromptChunks chunks = input.Chunks;
        int n = chunks.PromptCount;
        ITextToImageModel sd = model();
        SchedulerChoice scheduler = RunResolution.Scheduler(options, sd.SchedulerConfig);

        // The plan counts denoiser steps, one more than options.steps for PNDM.
        int steps = scheduler.Steps;

        // What plan.json keeps of each prompt, and the cluster embeddings: chunk by chunk, in prompt order.
        var prompts = new List<PlannedPrompt>(n);
        bool hierarchical = options.Mode == GenerationMode.Hierarchical;
        double[]? embeddings = null;
        // Read a few chunks ahead (a blob read is a round trip), taken in order.
        var reads = new Queue<(Task<byte[]> Texts, Task<byte[]> Tokens, Task<byte[]> Cluster)>();
        int next = 0;
        for (int c = 0; c < chunks.Chunks; c++)
        {
            for (; next < chunks.Chunks && next < c + ReadsInFlight; next++)
            {
                reads.Enqueue((
                    ReadAsync(Containers.Runs, RunBlobs.PromptChunk(run, next)),
                    ReadAsync(Containers.Runs, RunBlobs.ChunkTokens(run, next)),
                    hierarchical ? ReadAsync(Containers.Runs, RunBlobs.ChunkClusterEmbeddings(run, next)) : Task.FromResult(Array.Empty<byte>())));
            }

            (Task<byte[]> texts, Task<byte[]> tokens, Task<byte[]> cluster) = reads.Dequeue();
            string[] chunkTexts = JsonSerializer.Deserialize<string[]>(await texts, _json)!;
            ChunkTokens chunkTokens = JsonSerializer.Deserialize<ChunkTokens>(await tokens, _json)!;
            ReadOnlySpan<float> values = MemoryMarshal.Cast<byte, float>(await cluster);
            int width = values.Length / chunkTexts.Length;
            embeddings ??= hierarchical ? new double[(long)n * width] : [];
            for (int i = 0; i < values.Length; i++)
            {
                embeddings[((long)prompts.Count * width) + i] = values[i];
            }

            for (int i = 0; i < chunkTexts.Length; i++)
            {
                prompts.Add(new PlannedPrompt(prompts.Count, chunkTexts[i], chunkTokens.Tokens[i], chunkTokens.Truncated[i]));
            }
        }

        float[] negative = sd.NegativeConditioning(options.NegativePrompt);
        var clock = Stopwatch.StartNew();
        double tau = 0;
        string tauFrom = TauFrom.Standard;
        List<PlanSegment> segments;
        TreeMerge[] merges = [];
        TreeSummary? treeSummary = null;
        int[] parts = [];
        long calls;
        if (hierarchical)
        {
            PromptTree built = PromptTree.Build(new EmbeddingMatrix(n, embeddings!.Length / n, embeddings, "the prompts' cluster embeddings"), options.MaxExact);
            treeSummary = built.Summary();
            Linkage tree = built.Tree;
            (tau, tauFrom) = RunResolution.Tau(options, tree, steps);
            HierarchicalPlan plan = HierarchicalPlan.Build(tree, tau, steps, options.Schedule());
            segments = [.. plan.Segments];
            merges = tree.Rows.Select((r, i) => new TreeMerge(n + i, r.Left, r.Right, r.Height, r.Count)).ToArray();
            calls = plan.DenoiserCalls;
            if (segments.Any(s => s.Members.Length > 1))
            {
                parts = ClusterSums.Parts(tree, settings.PromptsPerConditioning);
            }
        }
        else
        {
            segments = Enumerable.Range(0, n).Select(p => new PlanSegment(p, 0, steps, -1, [p], 0)).ToList();
            calls = (long)steps * n;
        }

        double clusterSeconds = clock.Elapsed.TotalSeconds;
        await store.WriteAsync(Containers.Runs, RunBlobs.Negative(run), FloatBlobs.ToBytes(negative));
        var file = new RunPlanFile(
            run, input.Run.PromptsBlob, sd.Name, sd.Fingerprint, sd.Device, options, tau, tauFrom, scheduler.Name, scheduler.From, steps,
            sd.Latent.Channels, sd.Latent.Height, sd.Latent.Width, calls, (long)steps * n, input.EncodeSeconds, clusterSeconds,
            prompts,
            merges,
            segments)
        {
            TreeBuild = treeSummary,
            PromptsPerChunk = chunks.PromptsPerChunk,
            ConditioningLength = negative.Length,
        };
        await store.WriteAsync(Containers.Runs, RunBlobs.Plan(run), file.ToBytes());
        return new PreparedRun(run, null, n, options.Steps, tau, scheduler.Name, calls, file.StandardDenoiserCalls,
            segments.Count, settings.MaxSubtreeCalls)
        {
            ConditionParts = parts,
        };
    }

    private static byte[] Concatenate(IReadOnlyList<float[]> vectors)
    {
        var bytes = new byte[vectors.Sum(v => (long)v.Length) * sizeof(float)];
        long at = 0;
        foreach (float[] v in vectors)
        {
            MemoryMarshal.AsBytes(v.AsSpan()).CopyTo(bytes.AsSpan((int)at));
            at += v.Length * sizeof(float);
        }

        return bytes;
    }
}
