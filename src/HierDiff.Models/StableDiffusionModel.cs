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

    /// <summary>The family's name in refusals and the fingerprint.</summary>
    public const string FamilyName = "Stable Diffusion 1.x/2.x";

    private static readonly string[] FingerprintedConfigs =
        ["model_index.json", "scheduler/scheduler_config.json", "unet/config.json", "vae_decoder/config.json"];

    private StableDiffusionModel(ExportFolder folder, OnnxDevice device)
    {
        Directory = folder.Directory;
        Device = device;
        Name = folder.Name;
        folder.CheckPipelineClass(FamilyName, SupportedPipelines);
        Tokenizer = ClipTokenizer.Load(folder.File("tokenizer"));
        SchedulerConfig = SchedulerConfig.Load(folder.File("scheduler/scheduler_config.json"));
        try
        {
            TextEncoder = new TextEncoder(folder.File("text_encoder/model.onnx"), device, Tokenizer);
            UNet = new UNet(folder.File("unet/model.onnx"), device);
            Vae = new VaeDecoder(folder.File("vae_decoder/model.onnx"), device, folder.ScalingFactor(0.18215, FamilyName));
        }
        catch
        {
            Dispose();
            throw;
        }

        LatentChannels = UNet.LatentChannels;
        (LatentHeight, LatentWidth) = UNet.LatentSize(folder.SampleSize());
        Fingerprint = folder.Fingerprint("stable-diffusion", FingerprintedConfigs);
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
    public static StableDiffusionModel Load(string directory, OnnxDevice device) =>
        new(ExportFolder.Open(directory, "Stable Diffusion", RequiredFiles), device);

    public void Dispose()
    {
        TextEncoder?.Dispose();
        UNet?.Dispose();
        Vae?.Dispose();
    }
}
