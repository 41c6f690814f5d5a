using System.Text.Encodings.Web;
using System.Text.Json;
using HierDiff.Core.Clustering;
using HierDiff.Core.Planning;
using HierDiff.Core.Runs;
using HierDiff.Models.Pipelines;

namespace HierDiff.Pipeline.Activities;

/// <summary>One prompt of a run, as the plan file keeps it.</summary>
public sealed record PlannedPrompt(int Index, string Text, int Tokens, bool Truncated);

/// <summary>One merge of the Ward tree: node <see cref="Node"/> joins <see cref="Left"/> and <see cref="Right"/> at
/// height <see cref="Score"/>, serving <see cref="Count"/> prompts (node ids as scipy's: prompts 0..N-1, then N..2N-2).</summary>
public sealed record TreeMerge(int Node, int Left, int Right, double Score, int Count);

/// <summary>
/// <c>runs/{run}/plan.json</c>, written once by PlanRun: the options as resolved (tau and how it was chosen, the
/// scheduler and how it was chosen, the denoiser steps of a trajectory), the prompt tree (the linkage; none for standard generation), and every segment with its score.
/// Everything later reads it: the segment and finish activities, generate's output folder (which holds this same
/// file) and <c>hierdiff report</c>; nothing encodes or clusters a run twice.
/// </summary>
public sealed record RunPlanFile(
    string RunId,
    string PromptsBlob,
    string Model,
    string ModelFingerprint,
    string Device,
    GenerationOptions Options,
    double Tau,
    string TauFrom,
    string Scheduler,
    string SchedulerFrom,
    int DenoiserSteps,
    int LatentChannels,
    int LatentHeight,
    int LatentWidth,
    long DenoiserCalls,
    long StandardDenoiserCalls,
    double EncodeSeconds,
    double ClusterSeconds,
    IReadOnlyList<PlannedPrompt> Prompts,
    IReadOnlyList<TreeMerge> Tree,
    IReadOnlyList<PlanSegment> Segments)
{
    public const string FileName = "plan.json";

    /// <summary>How the tree was built (exact or sharded); null for standard runs and plans of earlier builds.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public TreeSummary? TreeBuild { get; init; }

    /// <summary>How many prompts each encoding chunk holds (0: plans of earlier builds, which stored every segment's
    /// conditioning).</summary>
    public int PromptsPerChunk { get; init; }

    /// <summary>Each shard's root node in <see cref="Tree"/>, in shard order (empty: a tree of its own, no shards).</summary>
    public IReadOnlyList<int> ShardRoots { get; init; } = [];

    /// <summary>The floats of one prompt's conditioning.</summary>
    public int ConditioningLength { get; init; }

    /// <summary>Of a sharded run's part plans (<see cref="PlanScopes"/>): -1 for the top tree's, the shard for a
    /// shard's; null for the run's whole plan.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public int? Scope { get; init; }

    /// <summary>How many prompts the run has: <see cref="Prompts"/> holds them all in the whole plan, only the part's
    /// own in a part plan (0 in plans of earlier builds: <see cref="Prompts"/>' count).</summary>
    public int PromptCount { get; init; }

    /// <summary>How many of the run's prompts were cut at the text encoder's length.</summary>
    public int TruncatedPrompts { get; init; }

    /// <summary>Of the top tree's part plan: each shard that has segments of its own, and the node whose trajectory its
    /// first segments continue (-1: fresh noise).</summary>
    public IReadOnlyList<ShardStart> ShardStarts { get; init; } = [];

    /// <summary>The run's prompt count, in any plan file.</summary>
    public int RunPromptCount() => PromptCount > 0 ? PromptCount : Prompts.Count;

    /// <summary>The prompt tree as a linkage (null for standard generation).</summary>
    public Linkage? Linkage() => Tree.Count == 0
        ? null
        : new Linkage(Prompts.Count, [.. Tree.Select(m => new LinkageRow(m.Left, m.Right, m.Score, m.Count))]);

    internal static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    public byte[] ToBytes() => JsonSerializer.SerializeToUtf8Bytes(this, Json);

    public static RunPlanFile Parse(byte[] bytes) =>
        JsonSerializer.Deserialize<RunPlanFile>(bytes, Json) ?? throw new InvalidDataException("empty plan file");
}

/// <summary>A shard of a sharded run, and the node above it whose trajectory its first segments continue (-1: noise).</summary>
public sealed record ShardStart(int Shard, int Source);

/// <summary>What plan.json keeps of a chunk's prompts from their tokenizing.</summary>
public sealed record ChunkTokens(int[] Tokens, bool[] Truncated);

/// <summary>Where a run's files live in the store.</summary>
public static class RunBlobs
{
    public static string Plan(string run) => $"{run}/plan.json";

    /// <summary>A cluster's mean conditioning (a segment of one prompt reads that prompt's from its chunk).</summary>
    public static string Conditioning(string run, int node) => $"{run}/conditioning/{node}.bin";

    /// <summary>A part of the tree's exact conditioning sum, for the activity that conditions what is above it.</summary>
    public static string ConditioningSum(string run, int node) => $"{run}/conditioning/sums/{node}.bin";

    /// <summary>A chunk of the prompts as PrepareRun read them, a JSON array of texts.</summary>
    public static string PromptChunk(string run, int chunk) => $"{run}/prompts/{chunk:D5}.json";

    /// <summary>A chunk's conditioning, prompt after prompt, each <see cref="RunPlanFile.ConditioningLength"/> floats.</summary>
    public static string ChunkConditioning(string run, int chunk) => $"{run}/encodings/{chunk:D5}.conditioning.bin";

    /// <summary>A chunk's cluster embeddings, prompt after prompt.</summary>
    public static string ChunkClusterEmbeddings(string run, int chunk) => $"{run}/encodings/{chunk:D5}.cluster.bin";

    /// <summary>A shard's prompts, as ShardPrompts assigned them (little-endian ints, ascending).</summary>
    public static string ShardMembers(string run, int shard) => $"{run}/shards/{shard:D5}.members.bin";

    /// <summary>A shard's manifest, written by FinishShard when its segments are done (<see cref="ShardManifest"/>).</summary>
    public static string ShardManifest(string run, int shard) => $"{run}/{ShardManifestName(shard)}";

    /// <summary>Where a shard's manifest is, from the run folder.</summary>
    public static string ShardManifestName(int shard) => $"shards/{shard:D5}.json";

    /// <summary>A part of a sharded run's plan (<see cref="PlanScopes"/>): the top tree's (-1) or a shard's.</summary>
    public static string PartPlan(string run, int scope) => scope < 0 ? $"{run}/shards/top.plan.json" : $"{run}/shards/{scope:D5}.plan.json";

    /// <summary>A shard's exact tree and moments (<see cref="ShardTreeBlob"/>).</summary>
    public static string ShardTree(string run, int shard) => $"{run}/shards/{shard:D5}.tree.bin";

    /// <summary>A chunk's token counts and truncation flags (<see cref="ChunkTokens"/>).</summary>
    public static string ChunkTokens(string run, int chunk) => $"{run}/encodings/{chunk:D5}.tokens.json";

    public static string Negative(string run) => $"{run}/conditioning/negative.bin";

    public static string Trajectory(string run, int node) => $"{run}/latents/{node}.bin";

    public static string Manifest(string run) => $"{run}/manifest.json";

    public static string Error(string run) => $"{run}/error.json";

    /// <summary>In the images container: images/{run}/0000.png ...</summary>
    public static string Image(string run, int index, int count) => $"{run}/{GenerationManifest.ImageName(index, count)["images/".Length..]}";
}
