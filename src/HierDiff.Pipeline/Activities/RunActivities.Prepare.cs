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
//   ShardPrompts           above max_exact: which prompts go to which shard, from the cluster embeddings
//   TreeShard x shards     above max_exact: one shard's exact tree, from its prompts' cluster embeddings
//   PlanRun                the tree (exact, or the shards' joined) and the plan
//   ConditionClusters      each cluster's mean conditioning, summed exactly part by part of the tree, then above them
// No activity holds every prompt's conditioning (236 KB a prompt for Stable Diffusion 1.5).
public sealed partial class RunActivities
{
    private const int ReadsInFlight = 16;

    /// <summary>Reads and checks the prompt file and the options, and stores the prompts in chunks of
    /// <see cref="PipelineSettings.PromptsPerChunk"/> as the file streams in: it holds one chunk, never the file.
    /// Bad input fails the run with its reason in runs/{run}/error.json; the prompt file is never touched.</summary>
    public async Task<PromptChunks> PrepareAsync(RunInput input)
    {
        string run = StoreNames.CheckRunId(input.RunId);
        Forget(run);
        try
        {
            GenerationOptions options = input.Options ?? throw new HierDiffInputException("the run has no options");

            // What can be checked without the prompts first, then the prompt count's bounds once they are read.
            options.Validate(maxPromptLength: settings.Limits.MaxPromptLength);
            int perChunk = settings.PromptsPerChunk;
            int count = 0, chunks = 0;
            await using (Stream file = await OpenPromptsAsync(input))
            {
                foreach (Prompt[] chunk in PromptFileReader.Stream(file, input.PromptsName ?? input.PromptsBlob, settings.Limits).Chunk(perChunk))
                {
                    string[] texts = [.. chunk.Select(p => p.Text)];
                    await store.WriteAsync(Containers.Runs, RunBlobs.PromptChunk(run, chunks++), JsonSerializer.SerializeToUtf8Bytes(texts, _json));
                    count += chunk.Length;
                }
            }

            // The one check of the options, for every host, with the prompt count that bounds a savings target.
            options.Validate(count, settings.Limits.MaxPromptLength);
            return new PromptChunks(run, null, count, chunks, perChunk);
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
            store.WriteAsync(Containers.Runs, RunBlobs.ChunkConditioning(run, input.Chunk), FloatBlobs.Concatenate([.. encoded.Select(e => e.Conditioning)])),
            store.WriteAsync(Containers.Runs, RunBlobs.ChunkClusterEmbeddings(run, input.Chunk), FloatBlobs.Concatenate([.. encoded.Select(e => e.ClusterEmbedding)])),
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
        Forget(run);
        try
        {
            return await PlanCheckedAsync(run, input);
        }
        catch (HierDiffInputException e)
        {
            await FailAsync(run, e.Message);
            return PreparedRun.Failed(run, e.Message, input.Run.Options.Steps);
        }
    }

    /// <summary>Splits the prompts into shards for a sharded tree (<see cref="PromptTree.Shards"/>, over every cluster
    /// embedding) and stores each shard's members, for its TreeShard activity.</summary>
    public async Task<PromptShards> ShardAsync(PlanInput input)
    {
        var clock = Stopwatch.StartNew();
        string run = StoreNames.CheckRunId(input.Run.RunId);
        EmbeddingMatrix embeddings;
        try
        {
            embeddings = await ReadClusterEmbeddingsAsync(run, input.Chunks);
        }
        catch (HierDiffInputException e)
        {
            // Embeddings a tree cannot be built on (a model that gave non-finite values): the run fails, as PlanRun's would.
            await FailAsync(run, e.Message);
            return new PromptShards(0, 0, 0, e.Message);
        }

        int[][] shards = PromptTree.Shards(embeddings, input.Run.Options.MaxExact);
        await Parallel.ForEachAsync(Enumerable.Range(0, shards.Length), new ParallelOptions { MaxDegreeOfParallelism = ReadsInFlight }, async (s, cancel) =>
            await store.WriteAsync(Containers.Runs, RunBlobs.ShardMembers(run, s), MemoryMarshal.AsBytes(shards[s].AsSpan()).ToArray(), cancel));
        return new PromptShards(shards.Length, embeddings.Columns, clock.Elapsed.TotalSeconds);
    }

    /// <summary>Builds one shard's exact tree and moments (<see cref="PromptTree.BuildShard"/>) from its prompts' cluster
    /// embeddings, each read out of its chunk's; it holds one shard's distances and nothing of the other shards.</summary>
    public async Task<ShardBuilt> TreeShardAsync(ShardInput input)
    {
        var clock = Stopwatch.StartNew();
        string run = StoreNames.CheckRunId(input.RunId);
        int[] members = MemoryMarshal.Cast<byte, int>(await ReadAsync(Containers.Runs, RunBlobs.ShardMembers(run, input.Shard))).ToArray();
        int width = input.Width, bytes = width * sizeof(float);
        var rows = new double[(long)members.Length * width];
        await Parallel.ForEachAsync(Enumerable.Range(0, members.Length), new ParallelOptions { MaxDegreeOfParallelism = ReadsInFlight }, async (r, cancel) =>
        {
            int prompt = members[r];
            byte[] row = await store.ReadRangeAsync(
                Containers.Runs, RunBlobs.ChunkClusterEmbeddings(run, prompt / input.PromptsPerChunk), (long)(prompt % input.PromptsPerChunk) * bytes, bytes, cancel);
            ReadOnlySpan<float> values = MemoryMarshal.Cast<byte, float>(row);
            for (int j = 0; j < width; j++)
            {
                rows[((long)r * width) + j] = values[j];
            }
        });
        ShardTree tree = PromptTree.BuildShard(members, new EmbeddingMatrix(members.Length, width, rows, "a shard of the prompts' cluster embeddings"));
        await store.WriteAsync(Containers.Runs, RunBlobs.ShardTree(run, input.Shard), ShardTreeBlob.ToBytes(tree));
        return new ShardBuilt(input.Shard, clock.Elapsed.TotalSeconds);
    }

    /// <summary>Writes the mean conditioning of every cluster of several prompts below <see cref="ConditionInput.Root"/>,
    /// summing the prompts' conditioning exactly up the tree (the sums of <see cref="ConditionInput.Stops"/> are
    /// read), and stores the root's sum when an activity above it needs it. It holds a few sums at a time
    /// (<see cref="ClusterSums"/>) and reads each prompt's conditioning once.</summary>
    public async Task<ConditionedClusters> ConditionAsync(ConditionInput input)
    {
        var clock = Stopwatch.StartNew();
        string run = StoreNames.CheckRunId(input.RunId);
        RunData data = await ReadRunAsync(run, WholePlan);
        RunPlanFile plan = data.Plan;
        Linkage tree = plan.Linkage() ?? throw new InvalidOperationException($"run {run} has no prompt tree to condition");
        HashSet<int> stops = [.. input.Stops];
        int[] order = ClusterSums.PostOrder(tree, input.Root, stops);

        // The prompts and stops in the order the walk takes them, read ahead a few at a time.
        await using IAsyncEnumerator<byte[]> loads = ReadAheadAsync(order
            .Where(n => tree.IsLeaf(n) || stops.Contains(n))
            .Select(n => stops.Contains(n)
                ? () => ReadAsync(Containers.Runs, RunBlobs.ConditioningSum(run, n))
                : (Func<Task<byte[]>>)(() => ReadPromptConditioningAsync(plan, n)))).GetAsyncEnumerator();

        var writes = new List<Task>();
        int clusters = 0;
        ExactSum rootSum = await ClusterSums.WalkAsync(
            tree,
            order,
            stops,
            plan.ConditioningLength,
            async (node, sum) =>
            {
                await loads.MoveNextAsync();
                if (stops.Contains(node))
                {
                    sum.Read(loads.Current);
                }
                else
                {
                    sum.Add(MemoryMarshal.Cast<byte, float>(loads.Current));
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

    /// <summary>The run's prompt file, to stream: from the prompts container, or the runs container for prompts
    /// posted over HTTP, and within the size limit.</summary>
    private async Task<Stream> OpenPromptsAsync(RunInput input)
    {
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

        return await store.OpenReadAsync(container, blob)
            ?? throw new HierDiffInputException($"{container}/{blob}: no such prompt file");
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

        // What plan.json keeps of each prompt, chunk by chunk, in prompt order.
        var prompts = new List<PlannedPrompt>(n);
        IEnumerable<int> chunkIndices = Enumerable.Range(0, chunks.Chunks);
        await using IAsyncEnumerator<byte[]> tokens = ReadInOrderAsync(chunkIndices.Select(c => RunBlobs.ChunkTokens(run, c))).GetAsyncEnumerator();
        await foreach (byte[] texts in ReadInOrderAsync(chunkIndices.Select(c => RunBlobs.PromptChunk(run, c))))
        {
            await tokens.MoveNextAsync();
            string[] chunkTexts = JsonSerializer.Deserialize<string[]>(texts, _json)!;
            ChunkTokens chunkTokens = JsonSerializer.Deserialize<ChunkTokens>(tokens.Current, _json)!;
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
        int[] shardRoots = [];
        long calls;
        if (options.Mode == GenerationMode.Hierarchical)
        {
            // Sharded: the shards' trees, built by TreeShard activities, joined here. Exact: the tree of every prompt.
            PromptTree built = input.Shards > 0
                ? PromptTree.Join(n, await ReadShardTreesAsync(run, input.Shards), options.MaxExact)
                : PromptTree.Build(await ReadClusterEmbeddingsAsync(run, chunks), options.MaxExact);
            treeSummary = built.Summary();
            shardRoots = [.. built.ShardRoots];
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

        double clusterSeconds = input.ShardSeconds + clock.Elapsed.TotalSeconds;
        await store.WriteAsync(Containers.Runs, RunBlobs.Negative(run), FloatBlobs.ToBytes(negative));
        var file = new RunPlanFile(
            run, input.Run.PromptsBlob, sd.Name, sd.Fingerprint, sd.Device, options, tau, tauFrom, scheduler.Name, scheduler.From, steps,
            sd.Latent.Channels, sd.Latent.Height, sd.Latent.Width, calls, (long)steps * n, input.EncodeSeconds, clusterSeconds,
            prompts,
            merges,
            segments)
        {
            TreeBuild = treeSummary,
            ShardRoots = shardRoots,
            PromptsPerChunk = chunks.PromptsPerChunk,
            ConditioningLength = negative.Length,
            PromptCount = n,
            TruncatedPrompts = prompts.Count(p => p.Truncated),
        };

        // A sharded run's parts first, each for the histories that run it; plan.json last, when the plan is whole.
        if (shardRoots.Length > 0)
        {
            await Parallel.ForEachAsync(PlanScopes.Split(file), new ParallelOptions { MaxDegreeOfParallelism = ReadsInFlight }, async (part, cancel) =>
                await store.WriteAsync(Containers.Runs, RunBlobs.PartPlan(run, part.Scope!.Value), part.ToBytes(), cancel));
        }

        await store.WriteAsync(Containers.Runs, RunBlobs.Plan(run), file.ToBytes());
        return new PreparedRun(run, null, n, options.Steps, tau, scheduler.Name, calls, file.StandardDenoiserCalls,
            segments.Count, settings.MaxSubtreeCalls)
        {
            ConditionParts = parts,
            Shards = shardRoots.Length,
        };
    }

    /// <summary>Every prompt's cluster embedding, chunk by chunk, as the matrix the tree is built on.</summary>
    private async Task<EmbeddingMatrix> ReadClusterEmbeddingsAsync(string run, PromptChunks chunks)
    {
        double[]? data = null;
        long at = 0;
        await foreach (byte[] chunk in ReadInOrderAsync(Enumerable.Range(0, chunks.Chunks).Select(c => RunBlobs.ChunkClusterEmbeddings(run, c))))
        {
            ReadOnlySpan<float> values = MemoryMarshal.Cast<byte, float>(chunk);
            data ??= new double[values.Length / Math.Min(chunks.PromptsPerChunk, chunks.PromptCount) * (long)chunks.PromptCount];
            for (int i = 0; i < values.Length; i++)
            {
                data[at++] = values[i];
            }
        }

        return new EmbeddingMatrix(chunks.PromptCount, data!.Length / chunks.PromptCount, data, "the prompts' cluster embeddings");
    }

    private async Task<ShardTree[]> ReadShardTreesAsync(string run, int shards)
    {
        var trees = new List<ShardTree>(shards);
        await foreach (byte[] tree in ReadInOrderAsync(Enumerable.Range(0, shards).Select(s => RunBlobs.ShardTree(run, s))))
        {
            trees.Add(ShardTreeBlob.FromBytes(tree));
        }

        return [.. trees];
    }

    /// <summary>Blobs of the run in order, a few read ahead.</summary>
    private IAsyncEnumerable<byte[]> ReadInOrderAsync(IEnumerable<string> names) =>
        ReadAheadAsync(names.Select(name => (Func<Task<byte[]>>)(() => ReadAsync(Containers.Runs, name))));

    /// <summary>The reads' bytes in order, <see cref="ReadsInFlight"/> of them under way at a time (each is a round
    /// trip to the store).</summary>
    private static async IAsyncEnumerable<byte[]> ReadAheadAsync(IEnumerable<Func<Task<byte[]>>> reads)
    {
        var pending = new Queue<Task<byte[]>>();
        using IEnumerator<Func<Task<byte[]>>> next = reads.GetEnumerator();
        bool more = true;
        while (true)
        {
            while (more && pending.Count < ReadsInFlight && (more = next.MoveNext()))
            {
                pending.Enqueue(next.Current());
            }

            if (pending.Count == 0)
            {
                yield break;
            }

            yield return await pending.Dequeue();
        }
    }
}
