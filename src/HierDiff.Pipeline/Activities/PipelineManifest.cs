using System.Text.Json;
using System.Text.Json.Nodes;
using HierDiff.Models.Pipelines;

namespace HierDiff.Pipeline.Activities;

/// <summary>
/// GPU time of a run: the seconds the model was busy, the seconds its activities ran (what GPU workers bill; summed
/// over activities, less their waits for a model another activity in the same worker was using), the
/// model seconds standard generation would have taken (the same per-call cost for every prompt's every step), and
/// those priced at the configured rate per GPU-second.
/// </summary>
public sealed record GpuAccounting(
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
