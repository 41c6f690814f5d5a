using System.Text.Encodings.Web;
using System.Text.Json;
using HierDiff.Core.Planning;
using HierDiff.Models.Pipelines;

namespace HierDiff.Pipeline.Activities;

/// <summary>One prompt of a run, as the plan file keeps it.</summary>
public sealed record PlannedPrompt(int Index, string Text, int Tokens, bool Truncated);

/// <summary>One segment with what its activity needs: its prompts and the prompt whose noise it uses.</summary>
public sealed record PlannedSegment(int Node, int Start, int End, int Source, int[] Members)
{
    public PlanSegment ToPlanSegment() => new(Node, Start, End, Source, Members, 0);
}

/// <summary><c>runs/{run}/plan.json</c>: everything the segment and finish activities read about a run.</summary>
public sealed record RunPlanFile(
    string RunId,
    string PromptsBlob,
    string Model,
    string Device,
    GenerationOptions Options,
    double Tau,
    string Scheduler,
    int LatentChannels,
    int LatentHeight,
    int LatentWidth,
    long DenoiserCalls,
    long StandardDenoiserCalls,
    double EncodeSeconds,
    double ClusterSeconds,
    IReadOnlyList<PlannedPrompt> Prompts,
    IReadOnlyList<PlannedSegment> Segments)
{
    internal static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public byte[] ToBytes() => JsonSerializer.SerializeToUtf8Bytes(this, Json);

    public static RunPlanFile Parse(byte[] bytes) =>
        JsonSerializer.Deserialize<RunPlanFile>(bytes, Json) ?? throw new InvalidDataException("empty plan file");
}

/// <summary>Where a run's files live in the store.</summary>
public static class RunBlobs
{
    public static string Plan(string run) => $"{run}/plan.json";

    public static string Conditioning(string run, int node) => $"{run}/conditioning/{node}.bin";

    public static string Negative(string run) => $"{run}/conditioning/negative.bin";

    public static string Trajectory(string run, int node) => $"{run}/latents/{node}.bin";

    public static string Manifest(string run) => $"{run}/manifest.json";

    public static string Error(string run) => $"{run}/error.json";

    /// <summary>In the images container: images/{run}/0000.png ...</summary>
    public static string Image(string run, int index, int count) => $"{run}/{GenerationManifest.ImageName(index, count)["images/".Length..]}";
}
