using System.Text.Json;
using HierDiff.Core;
using HierDiff.Core.Schedulers;
using HierDiff.Models.Images;
using HierDiff.Models.Onnx;
using HierDiff.Models.Tokenization;

namespace HierDiff.Models;

/// <summary>
/// Kandinsky 2.2 (kandinsky-community/kandinsky-2-2-prior and -decoder) in HierDiff's ONNX layout, run as diffusers'
/// KandinskyV22CombinedPipeline runs text-to-image: the prior turns each prompt into a CLIP image embedding
/// (<see cref="KandinskyPrior"/>, once per prompt, in Encode), and the decoder UNet, conditioned on image_embeds
/// only, denoises latents that MoVQ decodes to pixels (no latent scaling).
/// </summary>
/// <remarks>
/// The tree is built on the prompts' image embeddings, and a cluster is denoised with the mean of its prompts' image
/// embeddings, guided against the negative image embedding, as the paper's authors do with Kandinsky. The negative
/// for an empty negative prompt is diffusers' <c>get_zero_embed</c> (the image encoder on a zero image), stored in
/// the export as <c>prior/negative_image_embeds.json</c>; a non-empty negative prompt is run through the prior like a
/// prompt. (diffusers then also guides the prompts' prior against the negative text; HierDiff encodes prompts before
/// and apart from the negative prompt, so the prior is always guided against the empty prompt.)
/// </remarks>
public sealed class Kandinsky22Model : ITextToImageModel, IDisposable
{
    public const string FamilyName = "Kandinsky 2.2";

    /// <summary>Every file an export must have, relative to its folder.</summary>
    public static readonly IReadOnlyList<string> RequiredFiles =
    [
        "model_index.json",
        "prior/tokenizer/vocab.json",
        "prior/tokenizer/merges.txt",
        "prior/text_encoder/model.onnx",
        "prior/prior/model.onnx",
        "prior/prior/clip_stats.json",
        "prior/scheduler/scheduler_config.json",
        "prior/negative_image_embeds.json",
        "unet/model.onnx",
        "scheduler/scheduler_config.json",
        "movq_decoder/model.onnx",
    ];

    /// <summary>model_index.json's <c>_class_name</c>: diffusers' pipeline that holds both the prior and the decoder.</summary>
    public static readonly IReadOnlyList<string> SupportedPipelines = ["KandinskyV22CombinedPipeline"];

    private static readonly string[] FingerprintedConfigs =
    [
        "model_index.json", "scheduler/scheduler_config.json", "unet/config.json", "movq_decoder/config.json",
        "prior/scheduler/scheduler_config.json", "prior/prior/config.json", "prior/prior/clip_stats.json", "prior/negative_image_embeds.json",
    ];

    /// <summary>diffusers' KandinskyV22Pipeline default: 512 x 512 px, latents 64 x 64 (downscale_height_and_width:
    /// 512 // 8^2 x 8).</summary>
    public const int DefaultLatentSide = 64;

    /// <summary>movq_scale_factor, 2 ^ (len(block_out_channels) - 1): 8 for Kandinsky 2.2's MoVQ.</summary>
    public const int MovqScaleFactor = 8;

    private readonly float[] _zeroImageEmbeds;

    private Kandinsky22Model(ExportFolder folder, OnnxDevice device)
    {
        Directory = folder.Directory;
        Device = device;
        Name = folder.Name;
        folder.CheckPipelineClass(FamilyName, SupportedPipelines);
        SchedulerConfig = SchedulerConfig.Load(folder.File("scheduler/scheduler_config.json"));
        ClipTokenizer tokenizer = ClipTokenizer.Load(folder.File("prior/tokenizer"));
        UnClipConfig priorScheduler = UnClipConfig.Load(folder.File("prior/scheduler/scheduler_config.json"));
        (float[] clipMean, float[] clipStd) = ClipStats(folder);
        int width = clipMean.Length;
        _zeroImageEmbeds = FloatArray(folder, "prior/negative_image_embeds.json", "negative_image_embeds", width, "the width of the prior's image embeddings, clip_mean's");
        try
        {
            Prior = OpenPrior(folder, device, tokenizer, priorScheduler, clipMean, clipStd);
            UNet = new UNet(folder.File("unet/model.onnx"), device, [new UNetInput("image_embeds", width)], [], tokenSequence: false, learnedVariance: true);
            if (UNet.FixedDimension("image_embeds", 1) is int unetWidth && unetWidth != width)
            {
                throw new HierDiffInputException($"{UNet.Path}: image_embeds is {unetWidth} wide; expected {width} (the width of the prior's image embeddings, clip_mean's)");
            }

            Movq = new VaeDecoder(folder.File("movq_decoder/model.onnx"), device, scalingFactor: 1.0);
            (int h, int w) = UNet.LatentSize(DefaultLatentSide);
            Latent = new LatentShape(UNet.LatentChannels, h, w);
        }
        catch
        {
            Dispose();
            throw;
        }

        Fingerprint = folder.Fingerprint("kandinsky-2.2", FingerprintedConfigs);
    }

    public string Directory { get; }

    public string Name { get; }

    public OnnxDevice Device { get; }

    string ITextToImageModel.Device => Device.ToString();

    public string Fingerprint { get; }

    /// <summary>The decoder's scheduler_config.json (DDPMScheduler for Kandinsky 2.2).</summary>
    public SchedulerConfig SchedulerConfig { get; }

    public KandinskyPrior Prior { get; } = null!;

    public UNet UNet { get; } = null!;

    /// <summary>MoVQ's decoder: latents as the UNet leaves them (no scaling factor) to pixels in [-1, 1].</summary>
    public VaeDecoder Movq { get; } = null!;

    public LatentShape Latent { get; }

    /// <summary>Opens an export folder, checking every file, every model's inputs and outputs, and that the prior's
    /// embedding width is what the negative embedding and the UNet's image_embeds have.</summary>
    public static Kandinsky22Model Load(string directory, OnnxDevice device) =>
        new(ExportFolder.Open(directory, FamilyName, RequiredFiles), device);

    /// <summary>Clusters on and conditions with each prompt's image embedding from the prior.</summary>
    public IReadOnlyList<PromptEncoding> Encode(IReadOnlyList<string> prompts) =>
        Prior.Embed(prompts).Select(p => new PromptEncoding(p.ImageEmbedding, (float[])p.ImageEmbedding.Clone(), p.Text.Tokens.TokenCount, p.Text.Tokens.Truncated)).ToArray();

    /// <summary>The zero-image embedding for no negative prompt (diffusers' default); a negative prompt's image
    /// embedding from the prior otherwise.</summary>
    public float[] NegativeConditioning(string negativePrompt) =>
        negativePrompt.Length == 0 ? (float[])_zeroImageEmbeds.Clone() : Prior.Embed([negativePrompt])[0].ImageEmbedding;

    public IModelDenoiser CreateDenoiser(float[] negative, double guidance) =>
        new Pipelines.GuidedDenoiser(UNet, negative, guidance, Latent.Height, Latent.Width);

    public IReadOnlyList<RgbImage> Decode(IReadOnlyList<float[]> latents) => Movq.Decode(latents, Latent.Channels, Latent.Height, Latent.Width);

    public void Dispose()
    {
        Prior?.Dispose();
        UNet?.Dispose();
        Movq?.Dispose();
    }

    private static KandinskyPrior OpenPrior(ExportFolder folder, OnnxDevice device, ClipTokenizer tokenizer, UnClipConfig schedulerConfig, float[] clipMean, float[] clipStd)
    {
        var textEncoder = new TextEncoder(folder.File("prior/text_encoder/model.onnx"), device, tokenizer, HiddenLayer.Last, pooled: "text_embeds");
        OnnxModel? prior = null;
        try
        {
            prior = OnnxModel.Open(folder.File("prior/prior/model.onnx"), device, KandinskyPrior.Inputs, KandinskyPrior.Outputs);
            int width = clipMean.Length;
            void Expect(string input, int axis, int? expected, string why)
            {
                if (expected is int e && prior.FixedDimension(input, axis) is int found && found != e)
                {
                    throw new HierDiffInputException($"{prior.Path}: {input} is {found} wide; expected {e} ({why})");
                }
            }

            Expect("hidden_states", 1, width, "the width of clip_mean in prior/prior/clip_stats.json");
            Expect("proj_embedding", 1, textEncoder.PooledSize, "the width of prior/text_encoder's text_embeds");
            Expect("encoder_hidden_states", 2, textEncoder.HiddenSize, "the width of prior/text_encoder's last_hidden_state");
            Expect("encoder_hidden_states", 1, textEncoder.SequenceLength, "the tokens of prior/text_encoder's input_ids");
            if (prior.FixedOutputDimension("predicted_image_embedding", 1) is int output && output != width)
            {
                throw new HierDiffInputException($"{prior.Path}: predicted_image_embedding is {output} wide; expected {width} (the width of clip_mean in prior/prior/clip_stats.json)");
            }

            return new KandinskyPrior(textEncoder, prior, new UnClipScheduler(schedulerConfig, KandinskyPrior.DefaultSteps), clipMean, clipStd, KandinskyPrior.DefaultGuidance);
        }
        catch
        {
            textEncoder.Dispose();
            prior?.Dispose();
            throw;
        }
    }

    /// <summary>prior/prior/clip_stats.json: the PriorTransformer's clip_mean and clip_std buffers, which
    /// post_process_latents applies to the prior's output.</summary>
    private static (float[] Mean, float[] Std) ClipStats(ExportFolder folder)
    {
        const string file = "prior/prior/clip_stats.json";
        float[] mean = FloatArray(folder, file, "clip_mean", null, null);
        float[] std = FloatArray(folder, file, "clip_std", mean.Length, "clip_mean's width");
        return (mean, std);
    }

    /// <summary>A JSON file's array of finite numbers under <paramref name="key"/>, of a known width where one is given.</summary>
    private static float[] FloatArray(ExportFolder folder, string relative, string key, int? width, string? why)
    {
        string path = folder.File(relative);
        try
        {
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(path));
            if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty(key, out JsonElement array)
                || array.ValueKind != JsonValueKind.Array)
            {
                throw new HierDiffInputException($"{path}: expected a JSON object with \"{key}\", an array of numbers");
            }

            float[] values = array.EnumerateArray()
                .Select(v => v.ValueKind == JsonValueKind.Number && double.IsFinite(v.GetDouble())
                    ? (float)v.GetDouble()
                    : throw new HierDiffInputException($"{path}: {key} must hold finite numbers, not {v.GetRawText()}"))
                .ToArray();
            if (values.Length == 0 || (width is int w && values.Length != w))
            {
                throw new HierDiffInputException(width is int expected
                    ? $"{path}: {key} has {values.Length} values; expected {expected} ({why})"
                    : $"{path}: {key} is empty");
            }

            return values;
        }
        catch (JsonException e)
        {
            throw new HierDiffInputException($"{path}: invalid JSON ({e.Message.Split('.')[0]})");
        }
    }
}
