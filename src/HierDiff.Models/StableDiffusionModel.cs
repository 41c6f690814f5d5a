using System.Collections.Concurrent;
using System.Text.Json;
using HierDiff.Core;
using HierDiff.Core.Schedulers;
using HierDiff.Models.Onnx;
using HierDiff.Models.Tokenization;

namespace HierDiff.Models;

/// <summary>
/// A diffusers/optimum ONNX export of Stable Diffusion (1.x layout; 2.x loads the same way): tokenizer, text
/// encoder, UNet and VAE decoder, with its scheduler config. Sessions are opened once per folder and device per
/// process (<see cref="Shared"/>) and reused by every run.
/// </summary>
public sealed class StableDiffusionModel : ITextToImageModel, IDisposable
{
    /// <summary>Every file an export must have, relative to its folder.</summary>
    public static readonly IReadOnlyList<string> RequiredFiles =
    [
        "model_index.json",
        "scheduler/scheduler_config.json",
        "tokenizer/vocab.json",
        "tokenizer/merges.txt",
        "text_encoder/model.onnx",
        "unet/model.onnx",
        "vae_decoder/model.onnx",
    ];

    /// <summary>model_index.json's <c>_class_name</c> of the exports this type loads: diffusers' own, its ONNX
    /// pipeline's (diffusers' conversion script) and optimum's.</summary>
    public static readonly IReadOnlyList<string> SupportedPipelines = ["StableDiffusionPipeline", "OnnxStableDiffusionPipeline", "ORTStableDiffusionPipeline"];

    private StableDiffusionModel(string directory, OnnxDevice device)
    {
        Directory = directory;
        Device = device;
        Name = System.IO.Path.GetFileName(directory.TrimEnd('/', '\\'));
        CheckPipelineClass();
        Tokenizer = ClipTokenizer.Load(File("tokenizer"));
        SchedulerConfig = SchedulerConfig.Load(File("scheduler/scheduler_config.json"));
        try
        {
            TextEncoder = new TextEncoder(File("text_encoder/model.onnx"), device, Tokenizer);
            UNet = new UNet(File("unet/model.onnx"), device);
            Vae = new VaeDecoder(File("vae_decoder/model.onnx"), device, ReadScalingFactor());
        }
        catch
        {
            Dispose();
            throw;
        }

        LatentChannels = UNet.LatentChannels;
        (LatentHeight, LatentWidth) = UNet.LatentSize(ReadSampleSize());
        Fingerprint = ComputeFingerprint();
    }

    public string Directory { get; }

    /// <summary>The folder's name, as manifests and PNG metadata show it.</summary>
    public string Name { get; }

    public OnnxDevice Device { get; }

    public ClipTokenizer Tokenizer { get; }

    public SchedulerConfig SchedulerConfig { get; }

    public TextEncoder TextEncoder { get; }

    public UNet UNet { get; }

    public VaeDecoder Vae { get; }

    public int LatentChannels { get; }

    public int LatentHeight { get; }

    public int LatentWidth { get; }

    public LatentShape Latent => new(LatentChannels, LatentHeight, LatentWidth);

    public string Fingerprint { get; }

    string ITextToImageModel.Device => Device.ToString();

    /// <summary>Clusters on CLIP's pooled output; conditions on the token-sequence hidden states (77 x 768 for SD 1.x).</summary>
    public IReadOnlyList<PromptEncoding> Encode(IReadOnlyList<string> prompts) =>
        TextEncoder.Encode(prompts).Select(e => new PromptEncoding(e.Pooled, e.HiddenStates, e.Tokens.TokenCount, e.Tokens.Truncated)).ToArray();

    public float[] NegativeConditioning(string negativePrompt) => TextEncoder.Encode([negativePrompt])[0].HiddenStates;

    public IModelDenoiser CreateDenoiser(float[] negative, double guidance) => new Pipelines.GuidedDenoiser(UNet, negative, guidance, LatentHeight, LatentWidth);

    public IReadOnlyList<Images.RgbImage> Decode(IReadOnlyList<float[]> latents) => Vae.Decode(latents, LatentChannels, LatentHeight, LatentWidth);

    /// <summary>Opens an export folder, checking every file and every model's inputs and outputs.</summary>
    public static StableDiffusionModel Load(string directory, OnnxDevice device)
    {
        string full = System.IO.Path.GetFullPath(directory);
        if (!System.IO.Directory.Exists(full))
        {
            throw new HierDiffInputException($"{directory}: no such model folder");
        }

        string[] missing = RequiredFiles.Where(f => !System.IO.File.Exists(System.IO.Path.Combine(full, f))).ToArray();
        if (missing.Length > 0)
        {
            throw new HierDiffInputException(
                $"{directory}: not a complete Stable Diffusion ONNX export: missing {string.Join(", ", missing)} " +
                $"(expected {string.Join(", ", RequiredFiles)})");
        }

        return new StableDiffusionModel(full, device);
    }

    public void Dispose()
    {
        TextEncoder?.Dispose();
        UNet?.Dispose();
        Vae?.Dispose();
    }

    private string File(string relative) => System.IO.Path.Combine(Directory, relative);

    /// <summary>unet/config.json's sample_size (64 for SD 1.x at 512 px), where the export has one.</summary>
    private int? ReadSampleSize() => ReadConfigNumber("unet/config.json", "sample_size") switch
    {
        null => null,
        double d when d >= 1 && d <= 1024 && d == Math.Floor(d) => (int)d,
        double d => throw new HierDiffInputException($"{File("unet/config.json")}: sample_size must be a whole number of latent pixels from 1 to 1024, not {d}"),
    };

    /// <summary>vae_decoder/config.json's scaling_factor, or SD's 0.18215. Latents are divided by it, so zero,
    /// negative or non-finite values would decode to blank or garbage images without any error.</summary>
    private double ReadScalingFactor() => ReadConfigNumber("vae_decoder/config.json", "scaling_factor") switch
    {
        null => 0.18215,
        double f when double.IsFinite(f) && f > 1e-6 && f < 1e6 => f,
        double f => throw new HierDiffInputException($"{File("vae_decoder/config.json")}: scaling_factor must be a positive number (0.18215 for Stable Diffusion 1.x/2.x), not {f}"),
    };

    /// <summary>model_index.json names the diffusers pipeline the export belongs to; a family HierDiff does not run
    /// (SDXL's five-input UNet, Kandinsky's prior) is refused here, by name, rather than failing later.</summary>
    private void CheckPipelineClass()
    {
        string path = File("model_index.json");
        string className = TextToImageModels.PipelineClass(path);
        if (!SupportedPipelines.Contains(className))
        {
            throw new HierDiffInputException($"{path}: the export is a {className}; HierDiff runs Stable Diffusion 1.x/2.x exports ({string.Join(", ", SupportedPipelines)})");
        }
    }

    private double? ReadConfigNumber(string relative, string key)
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

            return !doc.RootElement.TryGetProperty(key, out JsonElement value) || value.ValueKind == JsonValueKind.Null ? null
                : value.ValueKind == JsonValueKind.Number ? value.GetDouble()
                : throw new HierDiffInputException($"{path}: {key} must be a number, not {value.GetRawText()}");
        }
        catch (JsonException e)
        {
            throw new HierDiffInputException($"{path}: invalid JSON ({e.Message.Split('.')[0]})");
        }
    }

    /// <summary>The family, the configs and model_index.json as bytes, and each ONNX file's size: cheap to compute
    /// for multi-GB exports, and different for any other export or a re-export.</summary>
    private string ComputeFingerprint()
    {
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        hash.AppendData(System.Text.Encoding.UTF8.GetBytes("stable-diffusion\n"));
        foreach (string relative in new[] { "model_index.json", "scheduler/scheduler_config.json", "unet/config.json", "vae_decoder/config.json" })
        {
            string path = File(relative);
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes($"{relative}\n"));
            if (System.IO.File.Exists(path))
            {
                hash.AppendData(System.IO.File.ReadAllBytes(path));
            }
        }

        foreach (string onnx in System.IO.Directory.EnumerateFiles(Directory, "model.onnx*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes($"{System.IO.Path.GetRelativePath(Directory, onnx)} {new FileInfo(onnx).Length}\n"));
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset())[..16];
    }
}
