using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace HierDiff.Models.Pipelines;

/// <summary>One prompt's line in a manifest: where its image is and how its text fit the token window.</summary>
public sealed record ManifestPrompt(int Index, string Text, string Image, int Tokens, bool Truncated);

/// <summary>One shard of a sharded run, as the run's summary lists it: its prompts, the images and denoiser calls
/// of its own segments (against standard generation's for its prompts), the GPU seconds of its activities, whether
/// it succeeded, and its manifest (<see cref="ShardManifestFile"/>), from the run folder.</summary>
public sealed record ManifestShard(
    int Shard, int Prompts, long Images, long DenoiserCalls, long StandardDenoiserCalls, double GpuSeconds, string Status, string? Error, string Manifest);

/// <summary>A shard's manifest (shards/00000.json): its prompts and images, listed as manifest.json lists a run's
/// of one tree, and what its own segments cost. <paramref name="Root"/>: the shard's node in plan.json's tree.</summary>
public sealed record ShardManifestFile(
    string RunId, int Shard, int Root, string Status, string? Error, IReadOnlyList<ManifestPrompt> Prompts, IReadOnlyList<string> Images,
    long DenoiserCalls, long StandardDenoiserCalls, double Savings, double GpuSeconds, int Workers, double ModelBusySeconds)
{
    public byte[] ToJsonBytes() => JsonSerializer.SerializeToUtf8Bytes(this, GenerationManifest.Json);

    public static ShardManifestFile Parse(ReadOnlySpan<byte> json) =>
        JsonSerializer.Deserialize<ShardManifestFile>(json, GenerationManifest.Json) ?? throw new JsonException("empty shard manifest");
}

/// <summary>Seconds per phase; total covers everything from reading the prompts to the last file written.</summary>
public sealed record ManifestTimings(
    [property: JsonPropertyName("total_s")] double Total,
    [property: JsonPropertyName("encode_s")] double Encode,
    [property: JsonPropertyName("cluster_s")] double Cluster,
    [property: JsonPropertyName("denoise_s")] double Denoise,
    [property: JsonPropertyName("decode_s")] double Decode);

/// <summary>How full the run's model calls were: calls, items per call, that as a fraction of max_batch, and how
/// many calls held each number of items (a guided item, two UNet rows, counts once).</summary>
public sealed record ManifestModelCalls(long Calls, double MeanBatch, double MeanFill, IReadOnlyDictionary<int, long> CallsByBatchSize)
{
    public static ManifestModelCalls From(HierDiff.Core.Sampling.BatchSizes batches, int maxBatch) =>
        new(batches.Calls, batches.MeanBatch, batches.MeanBatch / maxBatch, batches.CallsBySize);
}

/// <summary><c>manifest.json</c> of a run: what was asked, what was made, and what it cost in denoiser calls.
/// <see cref="SchedulerFrom"/>: how the scheduler was chosen, "option", "model" (the model's scheduler_config.json)
/// or "default" (ddpm); null in manifests of earlier builds.</summary>
public sealed record GenerationManifest(
    string Mode,
    string Model,
    string Device,
    IReadOnlyList<ManifestPrompt> Prompts,
    IReadOnlyList<string> Images,
    int Steps,
    double Tau,
    double? TargetSavings,
    ulong Seed,
    string Scheduler,
    string? SchedulerFrom,
    double Guidance,
    string NegativePrompt,
    int MaxBatch,
    int Width,
    int Height,
    long DenoiserCalls,
    long StandardDenoiserCalls,
    double Savings,
    int TruncatedPrompts,
    ManifestTimings Timings)
{
    /// <summary>The <c>--preset</c> (options.preset) the run was given, or null.</summary>
    public string? Preset { get; init; }

    /// <summary>"per_prompt" or "shared" (one starting latent for the set); null in manifests of earlier builds,
    /// which started per prompt.</summary>
    public string? StartingLatent { get; init; }

    /// <summary>The split schedule's shape G (1, the paper's; null in manifests of earlier builds).</summary>
    public double? SplitShape { get; init; }

    /// <summary>The split schedule's private steps L (0, the paper's; null in manifests of earlier builds).</summary>
    public int? PrivateSteps { get; init; }

    /// <summary>How the tree was built: exact, or sharded above --max-exact prompts (null for standard runs).</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public HierDiff.Core.Clustering.TreeSummary? Tree { get; init; }

    /// <summary>How full the model calls were (null in manifests of earlier builds).</summary>
    public ManifestModelCalls? ModelCalls { get; init; }

    /// <summary>A sharded run's shards: this manifest is then the run's summary, its <see cref="Prompts"/> and
    /// <see cref="Images"/> are empty, and each shard's manifest lists that shard's (null: a run of one tree).</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<ManifestShard>? Shards { get; init; }

    /// <summary>Of a sharded run: the denoiser calls of the top tree's segments, shared by several shards and
    /// counted in no shard's own.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public long? SharedDenoiserCalls { get; init; }

    internal static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>Runs of more prompts than this put their images in folders of <see cref="ImagesPerFolder"/>.</summary>
    public const int FlatImageLimit = 10_000;

    public const int ImagesPerFolder = 1_000;

    /// <summary>
    /// The image file of prompt <paramref name="index"/> of <paramref name="count"/>, named by its index with as many
    /// digits as the largest index needs (at least 4): images/0000.png ... Above <see cref="FlatImageLimit"/> prompts
    /// the images go in folders of 1,000 by index, so no folder grows past that: images/000/000123.png ...
    /// images/999/999999.png for a million.
    /// </summary>
    public static string ImageName(int index, int count)
    {
        int digits = Math.Max(4, (count - 1).ToString(CultureInfo.InvariantCulture).Length);
        string file = index.ToString(new string('0', digits), CultureInfo.InvariantCulture) + ".png";
        return count <= FlatImageLimit
            ? $"images/{file}"
            : $"images/{(index / ImagesPerFolder).ToString(new string('0', digits - 3), CultureInfo.InvariantCulture)}/{file}";
    }

    public byte[] ToJsonBytes() => JsonSerializer.SerializeToUtf8Bytes(this, Json);

    public static GenerationManifest Parse(ReadOnlySpan<byte> json) =>
        JsonSerializer.Deserialize<GenerationManifest>(json, Json) ?? throw new JsonException("empty manifest");

    /// <summary>The PNG text entries of one prompt's image.</summary>
    public IEnumerable<KeyValuePair<string, string>> PngText(int index) =>
        ImageText(Prompts[index].Text, NegativePrompt, Seed, Steps, Tau, Mode, Scheduler, Guidance, Model, StartingLatent ?? "per_prompt");

    /// <summary>The PNG text entries of an image: what made it, never when or how fast (the bytes must repeat).
    /// A shared starting latent is named; per-prompt noise, the default, is not (images of earlier builds repeat).</summary>
    public static IEnumerable<KeyValuePair<string, string>> ImageText(
        string prompt, string negativePrompt, ulong seed, int steps, double tau, string mode, string scheduler, double guidance, string model,
        string startingLatent)
    {
        yield return new("prompt", prompt);
        yield return new("negative_prompt", negativePrompt);
        yield return new("seed", seed.ToString(CultureInfo.InvariantCulture));
        yield return new("steps", steps.ToString(CultureInfo.InvariantCulture));
        yield return new("tau", tau.ToString("R", CultureInfo.InvariantCulture));
        yield return new("mode", mode);
        yield return new("scheduler", scheduler);
        yield return new("guidance", guidance.ToString("R", CultureInfo.InvariantCulture));
        yield return new("model", model);
        if (startingLatent != "per_prompt")
        {
            yield return new("starting_latent", startingLatent);
        }

        yield return new("Software", "HierDiff");
    }
}
