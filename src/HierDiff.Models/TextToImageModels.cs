using System.Collections.Concurrent;
using System.Text.Json;
using HierDiff.Core;
using HierDiff.Models.Onnx;

namespace HierDiff.Models;

/// <summary>
/// The model families HierDiff runs, chosen by the export's <c>model_index.json</c> (<c>_class_name</c>, the
/// diffusers pipeline it belongs to). One row per family: a new family is its implementation of
/// <see cref="ITextToImageModel"/> and a row here.
/// </summary>
public static class TextToImageModels
{
    /// <summary>A family: the pipeline classes whose exports it loads, and how.</summary>
    public sealed record Family(string Name, IReadOnlyList<string> PipelineClasses, Func<string, OnnxDevice, ITextToImageModel> Load);

    public static IReadOnlyList<Family> Families { get; } =
    [
        new(StableDiffusionModel.FamilyName, StableDiffusionModel.SupportedPipelines, StableDiffusionModel.Load),
        new(StableDiffusionXLModel.FamilyName, StableDiffusionXLModel.SupportedPipelines, StableDiffusionXLModel.Load),
        new(Kandinsky22Model.FamilyName, Kandinsky22Model.SupportedPipelines, Kandinsky22Model.Load),
    ];

    private static readonly ConcurrentDictionary<(string, string), Lazy<ITextToImageModel>> Cache = new();

    /// <summary>Opens an export folder with the family its model_index.json names; a class no family loads is
    /// refused, naming the ones that are supported.</summary>
    public static ITextToImageModel Load(string directory, OnnxDevice device)
    {
        string full = Path.GetFullPath(directory);
        if (!Directory.Exists(full))
        {
            throw new HierDiffInputException($"{directory}: no such model folder");
        }

        string index = Path.Combine(full, "model_index.json");
        if (!File.Exists(index))
        {
            throw new HierDiffInputException($"{directory}: not a diffusers/optimum export: missing model_index.json");
        }

        string className = PipelineClass(index);
        Family family = Families.FirstOrDefault(f => f.PipelineClasses.Contains(className))
            ?? throw new HierDiffInputException(
                $"{index}: the export is a {className}; HierDiff runs {string.Join("; ", Families.Select(f => $"{f.Name} ({string.Join(", ", f.PipelineClasses)})"))}");
        return family.Load(full, device);
    }

    /// <summary>The process-wide instance for a folder and device, loaded on first use and shared by every run.</summary>
    public static ITextToImageModel Shared(string directory, OnnxDevice device)
    {
        var key = (Path.GetFullPath(directory), device.ToString());
        Lazy<ITextToImageModel> lazy = Cache.GetOrAdd(key, k => new Lazy<ITextToImageModel>(() => Load(k.Item1, device)));
        try
        {
            return lazy.Value;
        }
        catch
        {
            Cache.TryRemove(new KeyValuePair<(string, string), Lazy<ITextToImageModel>>(key, lazy));
            throw;
        }
    }

    /// <summary>model_index.json's <c>_class_name</c>.</summary>
    public static string PipelineClass(string indexPath)
    {
        try
        {
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(indexPath));
            return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("_class_name", out JsonElement name)
                && name.ValueKind == JsonValueKind.String && name.GetString() is string s
                ? s
                : throw new HierDiffInputException($"{indexPath}: no \"_class_name\" string naming the diffusers pipeline; supported: {string.Join(", ", Families.SelectMany(f => f.PipelineClasses))}");
        }
        catch (JsonException e)
        {
            throw new HierDiffInputException($"{indexPath}: invalid JSON ({e.Message.Split('.')[0]})");
        }
    }
}
