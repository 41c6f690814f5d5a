using HierDiff.Core;
using HierDiff.Core.Schedulers;
using HierDiff.Models.Images;
using HierDiff.Models.Onnx;
using HierDiff.Models.Tokenization;

namespace HierDiff.Models;

/// <summary>
/// An optimum ONNX export of Stable Diffusion XL (<c>optimum-cli export onnx --model
/// stabilityai/stable-diffusion-xl-base-1.0</c>), conditioned as diffusers' StableDiffusionXLPipeline does it:
/// the penultimate hidden states of both text encoders side by side per token (768 + 1280 = 2048 wide), the second
/// encoder's projected text_embeds, and time_ids (original size, crop top-left, target size).
/// </summary>
/// <remarks>
/// The tree is built on text_embeds, the second encoder's pooled vector (one per prompt, as the paper clusters). A
/// cluster is denoised with the mean of what its prompts condition the UNet on: the token sequence and
/// text_embeds; time_ids are the same for every prompt of a run, so they are not averaged but given to each row.
/// </remarks>
public sealed class StableDiffusionXLModel : ITextToImageModel, IDisposable
{
    public const string FamilyName = "Stable Diffusion XL";

    /// <summary>Every file an export must have, relative to its folder.</summary>
    public static readonly IReadOnlyList<string> RequiredFiles =
    [
        "model_index.json",
        "scheduler/scheduler_config.json",
        "tokenizer/vocab.json",
        "tokenizer/merges.txt",
        "tokenizer_2/vocab.json",
        "tokenizer_2/merges.txt",
        "text_encoder/model.onnx",
        "text_encoder_2/model.onnx",
        "unet/model.onnx",
        "vae_decoder/model.onnx",
    ];

    /// <summary>model_index.json's <c>_class_name</c> of the exports this type loads: diffusers' and optimum's.</summary>
    public static readonly IReadOnlyList<string> SupportedPipelines = ["StableDiffusionXLPipeline", "ORTStableDiffusionXLPipeline"];

    private static readonly string[] FingerprintedConfigs =
        ["model_index.json", "scheduler/scheduler_config.json", "unet/config.json", "vae_decoder/config.json"];

    private readonly bool _zerosForEmptyNegative;
    private readonly int _tokens;

    private StableDiffusionXLModel(ExportFolder folder, OnnxDevice device)
    {
        Directory = folder.Directory;
        Device = device;
        Name = folder.Name;
        folder.CheckPipelineClass(FamilyName, SupportedPipelines);
        if (folder.Flag("model_index.json", "requires_aesthetics_score") == true)
        {
            throw new HierDiffInputException($"{folder.File("model_index.json")}: requires_aesthetics_score is true (the SDXL refiner, an image-to-image model); HierDiff runs the SDXL base model");
        }

        // diffusers' StableDiffusionXLPipeline defaults force_zeros_for_empty_prompt to true.
        _zerosForEmptyNegative = folder.Flag("model_index.json", "force_zeros_for_empty_prompt") ?? true;
        SchedulerConfig = SchedulerConfig.Load(folder.File("scheduler/scheduler_config.json"));
        ClipTokenizer tokenizer = ClipTokenizer.Load(folder.File("tokenizer"));
        ClipTokenizer tokenizer2 = ClipTokenizer.Load(folder.File("tokenizer_2"));
        try
        {
            TextEncoder = new TextEncoder(folder.File("text_encoder/model.onnx"), device, tokenizer, HiddenLayer.Penultimate);
            TextEncoder2 = new TextEncoder(folder.File("text_encoder_2/model.onnx"), device, tokenizer2, HiddenLayer.Penultimate, pooled: "text_embeds");
            int hidden = Width(TextEncoder, "text_encoder", folder, "hidden_size") + Width(TextEncoder2, "text_encoder_2", folder, "hidden_size");
            int pooled = TextEncoder2.PooledSize ?? (int)(folder.Number("text_encoder_2/config.json", "projection_dim")
                ?? throw new HierDiffInputException($"{folder.File("text_encoder_2/model.onnx")}: text_embeds has no fixed width and text_encoder_2/config.json gives no projection_dim"));
            _tokens = TextEncoder.SequenceLength;
            if (TextEncoder2.SequenceLength != _tokens)
            {
                throw new HierDiffInputException($"{folder.File("text_encoder_2/model.onnx")}: input_ids take {TextEncoder2.SequenceLength} tokens; text_encoder takes {_tokens}, and their hidden states are joined token by token");
            }

            TextWidth = (_tokens * hidden) + pooled;
            UNet = OpenUNet(folder, device, hidden, pooled, out int latentChannels);
            Vae = new VaeDecoder(folder.File("vae_decoder/model.onnx"), device, folder.ScalingFactor(0.13025, FamilyName));
            Latent = new LatentShape(latentChannels, LatentSide(folder), LatentSide(folder));
        }
        catch
        {
            Dispose();
            throw;
        }

        Fingerprint = folder.Fingerprint("stable-diffusion-xl", FingerprintedConfigs);
    }

    public string Directory { get; }

    public string Name { get; }

    public OnnxDevice Device { get; }

    string ITextToImageModel.Device => Device.ToString();

    public string Fingerprint { get; }

    public SchedulerConfig SchedulerConfig { get; }

    /// <summary>CLIP ViT-L (CLIPTextModel).</summary>
    public TextEncoder TextEncoder { get; } = null!;

    /// <summary>OpenCLIP ViT-bigG with projection (CLIPTextModelWithProjection).</summary>
    public TextEncoder TextEncoder2 { get; } = null!;

    public UNet UNet { get; } = null!;

    public VaeDecoder Vae { get; } = null!;

    public LatentShape Latent { get; }

    /// <summary>Values of one prompt's conditioning: tokens x (both encoders' widths), then text_embeds.</summary>
    public int TextWidth { get; }

    /// <summary>Opens an export folder, checking every file, every model's inputs and outputs, and that the encoders'
    /// widths are what the UNet takes.</summary>
    public static StableDiffusionXLModel Load(string directory, OnnxDevice device) =>
        new(ExportFolder.Open(directory, FamilyName, RequiredFiles), device);

    public IReadOnlyList<PromptEncoding> Encode(IReadOnlyList<string> prompts)
    {
        IReadOnlyList<EncodedPrompt> first = TextEncoder.Encode(prompts);
        IReadOnlyList<EncodedPrompt> second = TextEncoder2.Encode(prompts);
        return prompts.Select((_, i) => new PromptEncoding(
            second[i].Pooled, Conditioning(first[i], second[i]), first[i].Tokens.TokenCount, first[i].Tokens.Truncated)).ToArray();
    }

    /// <summary>diffusers: with no negative prompt and force_zeros_for_empty_prompt, the negative embeddings (the
    /// sequence and the pooled ones) are zeros; otherwise the negative prompt is encoded like any prompt.</summary>
    public float[] NegativeConditioning(string negativePrompt) =>
        negativePrompt.Length == 0 && _zerosForEmptyNegative
            ? new float[TextWidth]
            : Conditioning(TextEncoder.Encode([negativePrompt])[0], TextEncoder2.Encode([negativePrompt])[0]);

    public IModelDenoiser CreateDenoiser(float[] negative, double guidance) =>
        new Pipelines.GuidedDenoiser(UNet, negative, guidance, Latent.Height, Latent.Width);

    public IReadOnlyList<RgbImage> Decode(IReadOnlyList<float[]> latents) => Vae.Decode(latents, Latent.Channels, Latent.Height, Latent.Width);

    public void Dispose()
    {
        TextEncoder?.Dispose();
        TextEncoder2?.Dispose();
        UNet?.Dispose();
        Vae?.Dispose();
    }

    /// <summary>diffusers' <c>torch.concat(prompt_embeds_list, dim=-1)</c>: token by token, the first encoder's
    /// hidden state then the second's; then the second encoder's text_embeds.</summary>
    private float[] Conditioning(EncodedPrompt first, EncodedPrompt second)
    {
        int a = first.HiddenStates.Length / _tokens, b = second.HiddenStates.Length / _tokens;
        var values = new float[TextWidth];
        for (int t = 0; t < _tokens; t++)
        {
            first.HiddenStates.AsSpan(t * a, a).CopyTo(values.AsSpan(t * (a + b)));
            second.HiddenStates.AsSpan(t * b, b).CopyTo(values.AsSpan((t * (a + b)) + a));
        }

        second.Pooled.CopyTo(values.AsSpan(_tokens * (a + b)));
        return values;
    }

    private static int Width(TextEncoder encoder, string folderName, ExportFolder folder, string key) =>
        encoder.HiddenSize ?? (int)(folder.Number($"{folderName}/config.json", key)
            ?? throw new HierDiffInputException($"{folder.File($"{folderName}/model.onnx")}: its hidden states have no fixed width and {folderName}/config.json gives no {key}"));

    /// <summary>The UNet with SDXL's five inputs, checked against the encoders: a mismatch would otherwise fail
    /// inside ONNX Runtime on the first step, or not at all where a dimension is symbolic.</summary>
    private static UNet OpenUNet(ExportFolder folder, OnnxDevice device, int hidden, int pooled, out int latentChannels)
    {
        int side = LatentSide(folder);

        // diffusers' _get_add_time_ids: original size, crop top-left (0, 0), target size, in pixels.
        int pixels = side * VaeScaleFactor;
        float[] timeIds = [pixels, pixels, 0, 0, pixels, pixels];
        var unet = new UNet(folder.File("unet/model.onnx"), device, [new UNetInput("text_embeds", pooled)], [("time_ids", timeIds)]);
        try
        {
            Expect(unet, "encoder_hidden_states", 2, hidden, $"the width of text_encoder's and text_encoder_2's hidden states together");
            Expect(unet, "text_embeds", 1, pooled, "the width of text_encoder_2's text_embeds");
            Expect(unet, "time_ids", 1, timeIds.Length, "original size, crop top-left and target size; 5 would be the refiner's, with an aesthetic score");
            if (unet.LatentSize(side) != (side, side))
            {
                throw new HierDiffInputException($"{unet.Path}: sample is fixed at {unet.LatentSize(side)}; unet/config.json's sample_size is {side}");
            }

            latentChannels = unet.LatentChannels;
            return unet;
        }
        catch
        {
            unet.Dispose();
            throw;
        }
    }

    private static void Expect(UNet unet, string input, int axis, int expected, string why)
    {
        if (unet.FixedDimension(input, axis) is int found && found != expected)
        {
            throw new HierDiffInputException($"{unet.Path}: {input} is {found} wide; expected {expected} ({why})");
        }
    }

    /// <summary>unet/config.json's sample_size: 128 (1024 px) for SDXL base.</summary>
    private static int LatentSide(ExportFolder folder) => folder.SampleSize() ?? 128;

    /// <summary>diffusers' vae_scale_factor, 2 ^ (len(block_out_channels) - 1): 8 for every SDXL VAE.</summary>
    private const int VaeScaleFactor = 8;
}
