namespace HierDiff.TestModels;

/// <summary>Shape and typing of the tiny Stable Diffusion export that <see cref="TinyStableDiffusion"/> writes.</summary>
public sealed record TinyModelOptions
{
    /// <summary>Width of the text encoder's hidden states (CLIP ViT-L/14 has 768).</summary>
    public int HiddenSize { get; init; } = 32;

    /// <summary>Channels of the latents (4 in Stable Diffusion 1.x).</summary>
    public int LatentChannels { get; init; } = 4;

    /// <summary>
    /// The native latent size, written as <c>sample_size</c> in unet/config.json; images are 8 times larger (64 x 64 by
    /// default). The graphs themselves take any height and width, as real exports do.
    /// </summary>
    public int LatentSize { get; init; } = 8;

    /// <summary>Tokens per prompt: the text encoder's fixed input length and the tokenizer's model_max_length.</summary>
    public int SequenceLength { get; init; } = 77;

    /// <summary>Type and rank of the UNet's <c>timestep</c> input.</summary>
    public TimestepKind Timestep { get; init; } = TimestepKind.Int64Batch;

    /// <summary>The float inputs and outputs of all three models are float16, as in <c>--fp16</c> exports.</summary>
    public bool Float16 { get; init; }

    /// <summary>The text encoder's <c>input_ids</c> are int64 instead of optimum's int32.</summary>
    public bool InputIdsInt64 { get; init; }

    /// <summary>The UNet's weights go to <c>unet/model.onnx_data</c> as ONNX external data, as in exports over 2 GB.</summary>
    public bool UNetExternalData { get; init; }

    /// <summary>
    /// Channels of a hidden 3x3 convolution layer in the UNet (0: none). A few dozen make the UNet, not bookkeeping,
    /// the cost of a denoising step, as it is in real models: what benchmarks need.
    /// </summary>
    public int UNetWidth { get; init; }

    /// <summary>Seed of the random weights; the same options always give byte-identical files.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>The <c>_class_name</c> of scheduler/scheduler_config.json and the scheduler entry of model_index.json.</summary>
    public string SchedulerClass { get; init; } = "PNDMScheduler";

    /// <summary>scheduler_config.json's prediction_type: "epsilon" (SD 1.x, SD 2.x base) or "v_prediction" (SD 2.x 768 px).</summary>
    public string PredictionType { get; init; } = "epsilon";

    /// <summary>The tokenizer's pad token: CLIP's end token in SD 1.x, "!" in SD 2.x (OpenCLIP).</summary>
    public string PadToken { get; init; } = "<|endoftext|>";
}
