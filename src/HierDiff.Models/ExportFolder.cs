using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using HierDiff.Core;

namespace HierDiff.Models;

/// <summary>
/// A diffusers/optimum export folder as every family reads it: its files, the numbers and flags of its JSON
/// configs, and a fingerprint. Each refusal names the file.
/// </summary>
internal sealed class ExportFolder(string directory)
{
    public string Directory { get; } = directory;

    /// <summary>The folder's name, as manifests and PNG metadata show it.</summary>
    public string Name => Path.GetFileName(Directory.TrimEnd('/', '\\'));

    public string File(string relative) => Path.Combine(Directory, relative);

    /// <summary>Opens a folder that must hold <paramref name="required"/>; what is missing is named, with what a
    /// <paramref name="family"/> export holds.</summary>
    public static ExportFolder Open(string directory, string family, IReadOnlyList<string> required)
    {
        string full = Path.GetFullPath(directory);
        if (!System.IO.Directory.Exists(full))
        {
            throw new HierDiffInputException($"{directory}: no such model folder");
        }

        string[] missing = required.Where(f => !System.IO.File.Exists(Path.Combine(full, f))).ToArray();
        if (missing.Length > 0)
        {
            throw new HierDiffInputException(
                $"{directory}: not a complete {family} ONNX export: missing {string.Join(", ", missing)} (expected {string.Join(", ", required)})");
        }

        return new ExportFolder(full);
    }

    /// <summary>model_index.json names the diffusers pipeline; an export of another family is refused by name
    /// rather than failing later on a model's inputs.</summary>
    public void CheckPipelineClass(string family, IReadOnlyList<string> supported)
    {
        string path = File("model_index.json");
        string className = TextToImageModels.PipelineClass(path);
        if (!supported.Contains(className))
        {
            throw new HierDiffInputException($"{path}: the export is a {className}; HierDiff runs {family} exports ({string.Join(", ", supported)})");
        }
    }

    /// <summary>unet/config.json's sample_size (64 for SD 1.x at 512 px, 128 for SDXL), where the export has one.</summary>
    public int? SampleSize() => Number("unet/config.json", "sample_size") switch
    {
        null => null,
        double d when d >= 1 && d <= 1024 && d == Math.Floor(d) => (int)d,
        double d => throw new HierDiffInputException($"{File("unet/config.json")}: sample_size must be a whole number of latent pixels from 1 to 1024, not {d}"),
    };

    /// <summary>vae_decoder/config.json's scaling_factor, or the family's. Latents are divided by it, so zero,
    /// negative or non-finite values would decode to blank or garbage images without any error.</summary>
    public double ScalingFactor(double familyDefault, string family) => Number("vae_decoder/config.json", "scaling_factor") switch
    {
        null => familyDefault,
        double f when double.IsFinite(f) && f > 1e-6 && f < 1e6 => f,
        double f => throw new HierDiffInputException($"{File("vae_decoder/config.json")}: scaling_factor must be a positive number ({familyDefault} for {family}), not {f}"),
    };

    /// <summary>A number in a JSON config, or null where the file or the key is missing (or the value is null).</summary>
    public double? Number(string relative, string key) => Value(relative, key, JsonValueKind.Number, "a number")?.GetDouble();

    /// <summary>A true/false flag in a JSON config, or null where the file or the key is missing.</summary>
    public bool? Flag(string relative, string key) => Value(relative, key, JsonValueKind.True, "true or false")?.GetBoolean();

    /// <summary>The family, the configs and model_index.json as bytes, and each ONNX file's size: cheap to compute
    /// for multi-GB exports, and different for any other export or a re-export.</summary>
    public string Fingerprint(string family, IEnumerable<string> configs)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes($"{family}\n"));
        foreach (string relative in configs)
        {
            string path = File(relative);
            hash.AppendData(Encoding.UTF8.GetBytes($"{relative}\n"));
            if (System.IO.File.Exists(path))
            {
                hash.AppendData(System.IO.File.ReadAllBytes(path));
            }
        }

        foreach (string onnx in System.IO.Directory.EnumerateFiles(Directory, "model.onnx*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            hash.AppendData(Encoding.UTF8.GetBytes($"{Path.GetRelativePath(Directory, onnx)} {new FileInfo(onnx).Length}\n"));
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset())[..16];
    }

    private JsonElement? Value(string relative, string key, JsonValueKind kind, string what)
    {
        string path = File(relative);
        if (!System.IO.File.Exists(path))
        {
            return null;
        }

        try
        {
            using JsonDocument doc = JsonDocument.Parse(System.IO.File.ReadAllBytes(path));
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new HierDiffInputException($"{path}: expected a JSON object");
            }

            if (!doc.RootElement.TryGetProperty(key, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
            {
                return null;
            }

            bool matches = value.ValueKind == kind || (kind == JsonValueKind.True && value.ValueKind == JsonValueKind.False);
            return matches ? value.Clone() : throw new HierDiffInputException($"{path}: {key} must be {what}, not {value.GetRawText()}");
        }
        catch (JsonException e)
        {
            throw new HierDiffInputException($"{path}: invalid JSON ({e.Message.Split('.')[0]})");
        }
    }
}
