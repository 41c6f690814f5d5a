using HierDiff.Core.Runs;
using HierDiff.Core.Sampling;
using HierDiff.Models.Pipelines;

namespace HierDiff.Pipeline.Orchestration;

// The small JSON messages that pass through an orchestration: ids, step ranges and blob names, never latents.

/// <summary>Start a run: its id, its prompt file (in the prompts container, or in the runs container for prompts
/// posted over HTTP), options, and where to report when done. <paramref name="PromptsName"/>: how errors name the
/// prompt file (the command line's path to it; null: the blob).</summary>
public sealed record RunInput(
    string RunId, string PromptsBlob, GenerationOptions Options, string? CallbackUrl = null, string PromptsContainer = "prompts", string? PromptsName = null);

/// <summary>What reading a run's prompt file found: how many prompts, stored for encoding in how many chunks of
/// <paramref name="PromptsPerChunk"/>, or why the run cannot go on.</summary>
public sealed record PromptChunks(string RunId, string? Error, int PromptCount, int Chunks, int PromptsPerChunk);

/// <summary>Encode one chunk of a run's prompts.</summary>
public sealed record EncodeInput(string RunId, int Chunk);

/// <summary>What encoding a chunk took, in seconds.</summary>
public sealed record EncodedChunk(int Chunk, double Seconds);

/// <summary>Plan a run from its encoded chunks: the run as it was started, its chunks, the seconds encoding them
/// took, and, for a sharded tree, how many shards' trees earlier activities stored and the seconds they took
/// (0: PlanRun builds the exact tree itself).</summary>
public sealed record PlanInput(RunInput Run, PromptChunks Chunks, double EncodeSeconds, int Shards = 0, double ShardSeconds = 0);

/// <summary>What splitting a run's prompts into shards found: how many shards (their members stored), the width of
/// a cluster embedding, and the seconds it took; or why the run cannot go on.</summary>
public sealed record PromptShards(int Shards, int Width, double Seconds, string? Error = null);

/// <summary>Build one shard's exact tree from its prompts' cluster embeddings.</summary>
public sealed record ShardInput(string RunId, int Shard, int PromptsPerChunk, int Width);

/// <summary>What building a shard's tree took, in seconds.</summary>
public sealed record ShardBuilt(int Shard, double Seconds);

/// <summary>Condition the clusters below <paramref name="Root"/>: each segment of several prompts gets their mean
/// conditioning. <paramref name="Stops"/>: nodes below it whose sums earlier activities stored (their own clusters
/// are done).</summary>
public sealed record ConditionInput(string RunId, int Root, IReadOnlyList<int> Stops);

/// <summary>What conditioning a part of the tree wrote: how many clusters' conditioning, in how many seconds.</summary>
public sealed record ConditionedClusters(int Clusters, double Seconds);

/// <summary>One tree node's step range and the node whose trajectory it continues (-1: fresh noise).</summary>
public sealed record SegmentSpec(int Node, int Start, int End, int Source);

/// <summary>What planning a run found: the schedule of segments, or why the run cannot go on.</summary>
public sealed record PreparedRun(
    string RunId,
    string? Error,
    int PromptCount,
    int Steps,
    double Tau,
    string Scheduler,
    long DenoiserCalls,
    long StandardDenoiserCalls,
    int SegmentCount,
    int MaxSubtreeCalls = 0)
{
    /// <summary>The roots of the parts of the tree whose clusters are conditioned by activities of their own, in
    /// parallel, before what is above them (none for standard generation).</summary>
    public IReadOnlyList<int> ConditionParts { get; init; } = [];

    /// <summary>How many shards the tree was built from (0: one tree); each runs as a sub-orchestration of its own.</summary>
    public int Shards { get; init; }

    /// <summary>A run that cannot go on, and why.</summary>
    public static PreparedRun Failed(string runId, string error, int steps) => new(runId, error, 0, steps, 0, "", 0, 0, 0);

    /// <summary>The prompt tree's root, in scipy's node ids (prompts 0..N-1, merges N..2N-2).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public int TreeRoot => (2 * PromptCount) - 2;
}

/// <summary>Sibling segments from the same source, denoised together in one activity: without
/// <paramref name="Subtree"/> they run the same steps, Start to End, and hand off; with it, the activity also runs
/// everything below them in <paramref name="Shard"/> (-1: outside every shard), in memory, to the images (End is then
/// the last of the siblings' ends).</summary>
public sealed record SegmentBatch(string RunId, int Source, int Start, int End, IReadOnlyList<int> Nodes, bool Subtree = false, int Shard = -1);

/// <summary>What activities used: seconds the model was busy (denoising and decoding), seconds they ran (summed),
/// denoiser calls, the part of the model seconds spent decoding, and when each worker process was busy with them
/// (<see cref="WorkerTime"/>). <paramref name="Error"/>: why the run cannot go on (a latent that turned non-finite);
/// nothing continues from an activity that reports one. <paramref name="Batches"/>: how full its model calls were.</summary>
public sealed record ActivityReport(
    double ModelSeconds, double WallSeconds, long DenoiserCalls, double DecodeSeconds, IReadOnlyList<BusyInterval>? Busy = null, string? Error = null,
    long Images = 0, BatchSizes? Batches = null)
{
    public static ActivityReport Zero { get; } = new(0, 0, 0, 0);

    /// <summary>The shards that finished below (a sharded run's), each as its FinishShard activity reported it.</summary>
    public IReadOnlyList<ManifestShard> Shards { get; init; } = [];

    public static ActivityReport operator +(ActivityReport a, ActivityReport b) => new(
        a.ModelSeconds + b.ModelSeconds,
        a.WallSeconds + b.WallSeconds,
        a.DenoiserCalls + b.DenoiserCalls,
        a.DecodeSeconds + b.DecodeSeconds,
        WorkerTime.Union([.. a.Busy ?? [], .. b.Busy ?? []]),
        a.Error ?? b.Error,
        a.Images + b.Images,
        BatchSizes.Sum([a.Batches, b.Batches]))
    {
        Shards = [.. a.Shards, .. b.Shards],
    };
}

/// <summary>A running run's progress, as its orchestration's custom status: images written of the run's total, and
/// of a sharded run, its shards done of all of them (0 of 0 for a run of one tree).</summary>
public sealed record RunProgress(long ImagesDone, long ImagesTotal, int ShardsDone = 0, int ShardsTotal = 0);

/// <summary>Part of the tree, run by a sub-orchestration so that no single history grows past a few hundred
/// activities: every segment below the source nodes (-1: the whole tree) in <paramref name="Shard"/> (-1: outside
/// every shard, which is every segment of a run of one tree). Batches whose subtrees need at most
/// <paramref name="MaxSubtreeCalls"/> denoiser calls run them whole, in one activity.</summary>
public sealed record SubtreeInput(
    string RunId, IReadOnlyList<int> Sources, int MaxActivities = RunOrchestration.MaxActivitiesPerHistory, int MaxSubtreeCalls = 0, int Shard = -1);

/// <summary>Finish one shard of a sharded run: write its manifest from the plan and what its activities reported.</summary>
public sealed record FinishShardInput(string RunId, int Shard, ActivityReport Work);

/// <summary>Finish a run: write its manifest (a sharded run's summary) from the plan and what every activity reported.</summary>
public sealed record FinishInput(string RunId, ActivityReport Work, double WallSeconds);

/// <summary>How a run ended.</summary>
public sealed record RunOutcome(string RunId, bool Succeeded, string? Error, string? ManifestBlob);
