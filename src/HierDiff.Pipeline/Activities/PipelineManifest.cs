using System.Text.Json;
using System.Text.Json.Nodes;
using HierDiff.Models.Pipelines;

namespace HierDiff.Pipeline.Activities;

/// <summary>
/// GPU time of a run. <paramref name="GpuSeconds"/> is what a per-second GPU bill counts: per worker process, the
/// union of the intervals in which any of its GPU activities ran, summed over the <paramref name="Workers"/>; the
/// cost is priced on it. Beside it: the seconds the model itself was busy, the activities' wall seconds summed (an
/// upper bound: activities that overlap in one worker are each counted), and the model seconds standard generation
/// would have taken (the same per-call cost for every prompt's every step), priced at the same rate.
/// </summary>
public sealed record GpuAccounting(
    double GpuSeconds,
    int Workers,
    double ModelBusySeconds,
    double ActivityWallSeconds,
    double StandardEstimateSeconds,
    double PricePerGpuSecond,
    double Cost,
    double StandardEstimateCost);

/// <summary>A pipeline run's manifest: the command line's manifest plus its GPU accounting under <c>gpu</c>.</summary>
public sealed record PipelineManifest(GenerationManifest Generation, GpuAccounting Gpu)
{
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public byte[] ToJsonBytes()
    {
        JsonObject root = JsonNode.Parse(Generation.ToJsonBytes())!.AsObject();
        root["gpu"] = JsonSerializer.SerializeToNode(Gpu, Json);
        return JsonSerializer.SerializeToUtf8Bytes(root, Json);
    }
}
