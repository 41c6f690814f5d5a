using System.Text.Json.Nodes;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace HierDiff.TestModels;

/// <summary>Shape and typing of the tiny Kandinsky 2.2 export that <see cref="TinyKandinsky22"/> writes, and the ways
/// it can be made wrong on purpose.</summary>
public sealed record TinyKandinskyOptions
{
    /// <summary>Width of the image embeddings, of the prior text encoder's states and text_embeds (1280 in Kandinsky 2.2).</summary>
    public int EmbeddingDim { get; init; } = 16;

    public int SequenceLength { get; init; } = 77;

    public int LatentChannels { get; init; } = 4;

    /// <summary>The UNet's sample is fixed at this height and width (Kandinsky 2.2: 64 at 512 px); images are 8 times larger.</summary>
    public int LatentSize { get; init; } = 8;

    /// <summary>float16 float inputs and outputs in every graph.</summary>
    public bool Float16 { get; init; }

    public int Seed { get; init; } = 1;

    /// <summary>Width of the UNet's image_embeds; null gives the right one, <see cref="EmbeddingDim"/>.</summary>
    public int? UNetEmbeddingDim { get; init; }
}

/// <summary>
/// Writes a tiny random Kandinsky 2.2 export in HierDiff's layout (README, "Kandinsky 2.2"): model_index.json
/// (KandinskyV22CombinedPipeline), prior/ {tokenizer ("!" padding, as CLIP ViT-bigG's), text_encoder (input_ids →
/// text_embeds, last_hidden_state), prior (hidden_states, timestep, proj_embedding, encoder_hidden_states,
/// attention_mask → predicted_image_embedding), clip_stats.json, scheduler (UnCLIPScheduler), negative_image_embeds.json},
/// unet/ (sample, timestep, image_embeds → out_sample with twice the latent channels), scheduler/ (DDPMScheduler)
/// and movq_decoder/. Every output depends on every input, so a wiring mistake shows.
/// </summary>
public static class TinyKandinsky22
{
    public static string Write(string directory, TinyKandinskyOptions? options = null)
    {
        options ??= new TinyKandinskyOptions();
        TinyStableDiffusion.Positive(options.EmbeddingDim, nameof(options.EmbeddingDim));
        TinyStableDiffusion.Positive(options.LatentSize, nameof(options.LatentSize));
        Directory.CreateDirectory(directory);
        int e = options.EmbeddingDim;
        var random = new Random(unchecked((options.Seed * 173) + 7));

        TinyStableDiffusion.WriteJson(Path.Combine(directory, "model_index.json"), ModelIndex());
        TinyStableDiffusion.WriteTokenizer(Path.Combine(directory, "prior", "tokenizer"), options.SequenceLength, "!");
        var textOptions = new TinyXlOptions { SequenceLength = options.SequenceLength, Float16 = options.Float16, Seed = options.Seed, Layers = 1 };
        WriteOnnx(TinyStableDiffusionXL.TextEncoder(textOptions, e, e, salt: 11), Path.Combine(directory, "prior", "text_encoder", "model.onnx"));
        TinyStableDiffusion.WriteJson(Path.Combine(directory, "prior", "text_encoder", "config.json"), new JsonObject
        {
            ["architectures"] = new JsonArray("CLIPTextModelWithProjection"),
            ["hidden_size"] = e,
            ["max_position_embeddings"] = options.SequenceLength,
            ["projection_dim"] = e,
        });

        WriteOnnx(Prior(options), Path.Combine(directory, "prior", "prior", "model.onnx"));
        TinyStableDiffusion.WriteJson(Path.Combine(directory, "prior", "prior", "config.json"), new JsonObject
        {
            ["_class_name"] = "PriorTransformer",
            ["embedding_dim"] = e,
            ["num_embeddings"] = options.SequenceLength,
            ["additional_embeddings"] = 4,
            ["clip_embed_dim"] = e,
        });
        TinyStableDiffusion.WriteJson(Path.Combine(directory, "prior", "prior", "clip_stats.json"), new JsonObject
        {
            ["clip_mean"] = Numbers(random, e, 0.0, 0.2),
            ["clip_std"] = Numbers(random, e, 1.0, 0.5),
        });
        TinyStableDiffusion.WriteJson(Path.Combine(directory, "prior", "scheduler", "scheduler_config.json"), PriorSchedulerConfig());
        TinyStableDiffusion.WriteJson(Path.Combine(directory, "prior", "negative_image_embeds.json"), new JsonObject
        {
            ["negative_image_embeds"] = Numbers(random, e, 0.0, 1.0),
        });

        WriteOnnx(UNet(options), Path.Combine(directory, "unet", "model.onnx"));
        TinyStableDiffusion.WriteJson(Path.Combine(directory, "unet", "config.json"), new JsonObject
        {
            ["_class_name"] = "UNet2DConditionModel",
            ["addition_embed_type"] = "image",
            ["encoder_hid_dim"] = options.UNetEmbeddingDim ?? e,
            ["encoder_hid_dim_type"] = "image_proj",
            ["in_channels"] = options.LatentChannels,
            ["out_channels"] = 2 * options.LatentChannels,
            ["sample_size"] = options.LatentSize,
        });
        TinyStableDiffusion.WriteJson(Path.Combine(directory, "scheduler", "scheduler_config.json"), DecoderSchedulerConfig());

        WriteOnnx(TinyStableDiffusion.VaeDecoder(options.Seed, options.LatentChannels, options.Float16), Path.Combine(directory, "movq_decoder", "model.onnx"));
        TinyStableDiffusion.WriteJson(Path.Combine(directory, "movq_decoder", "config.json"), new JsonObject
        {
            ["_class_name"] = "VQModel",
            ["block_out_channels"] = new JsonArray(128, 256, 256, 512),
            ["latent_channels"] = options.LatentChannels,
            ["norm_type"] = "spatial",
        });
        return directory;
    }

    /// <summary>
    /// hidden_states [B, E], timestep int64 [B], proj_embedding [B, E], encoder_hidden_states [B, S, E],
    /// attention_mask bool [B, S] → predicted_image_embedding = 2 tanh(hidden_states A + proj_embedding B +
    /// (mean of encoder_hidden_states over the unmasked tokens) C + timestep / 1000 d + bias).
    /// </summary>
    private static ModelProto Prior(TinyKandinskyOptions options)
    {
        var random = new Random(unchecked((options.Seed * 173) + 1));
        int e = options.EmbeddingDim;
        double scale = 1.5 / Math.Sqrt(e);
        var g = new OnnxGraphBuilder("prior");
        var hidden = g.FloatInput("hidden_states", options.Float16, "batch", e);
        g.Input("timestep", DataType.Int64, "batch");
        var proj = g.FloatInput("proj_embedding", options.Float16, "batch", e);
        var states = g.FloatInput("encoder_hidden_states", options.Float16, "batch", options.SequenceLength, e);
        g.Input("attention_mask", DataType.Bool, "batch", options.SequenceLength);

        var mask = g.Cast("attention_mask", DataType.Float);
        var masked = g.Node("Mul", [states, g.Node("Unsqueeze", [mask, g.Int64s("mask_axis", [2], 1)])]);
        var sum = g.Node("ReduceSum", [masked, g.Int64s("token_axis", [1], 1)], null, OnnxGraphBuilder.IntAttribute("keepdims", 0));
        var count = g.Node("ReduceSum", [mask, g.Int64s("count_axis", [1], 1)], null, OnnxGraphBuilder.IntAttribute("keepdims", 1));
        var mean = g.Node("Div", [sum, count]);

        var time = g.Node("Reshape", [g.Node("Mul", [g.Cast("timestep", DataType.Float), g.Floats("timestep_scale", [0.001f])]), g.Int64s("time_shape", [-1, 1], 2)]);
        var total = g.Node("Add", [g.Node("MatMul", [hidden, g.RandomWeights("hidden_projection", random, scale, e, e)]),
            g.Node("MatMul", [proj, g.RandomWeights("proj_projection", random, scale, e, e)])]);
        total = g.Node("Add", [total, g.Node("MatMul", [mean, g.RandomWeights("states_projection", random, 2 * scale, e, e)])]);
        total = g.Node("Add", [total, g.Node("Mul", [time, g.RandomWeights("timestep_weight", random, 1.0, 1, e)])]);
        total = g.Node("Add", [total, g.RandomWeights("bias", random, 0.1, e)]);
        var predicted = g.Node("Mul", [g.Node("Tanh", [total]), g.Floats("output_scale", [2f])]);
        g.FloatOutput("predicted_image_embedding", predicted, options.Float16, "batch", e);
        return g.Build();
    }

    /// <summary>
    /// sample [B, C, L, L] (fixed L), timestep int64 [B], image_embeds [B, E] → out_sample [B, 2C, L, L] =
    /// tanh(conv3x3(sample) + image_embeds A + timestep / 1000 d), each term per output channel.
    /// </summary>
    private static ModelProto UNet(TinyKandinskyOptions options)
    {
        var random = new Random(unchecked((options.Seed * 173) + 3));
        int c = options.LatentChannels, o = 2 * c, l = options.LatentSize, e = options.UNetEmbeddingDim ?? options.EmbeddingDim;
        var g = new OnnxGraphBuilder("unet");
        var sample = g.FloatInput("sample", options.Float16, "batch", c, l, l);
        g.Input("timestep", DataType.Int64, "batch");
        var embeds = g.FloatInput("image_embeds", options.Float16, "batch", e);

        var convolved = g.Node("Conv",
            [sample, g.RandomWeights("conv_weight", random, 0.5 * Math.Sqrt(3.0 / (9 * c)), o, c, 3, 3), g.RandomWeights("conv_bias", random, 0.1, o)],
            null, OnnxGraphBuilder.IntsAttribute("kernel_shape", 3, 3), OnnxGraphBuilder.IntsAttribute("pads", 1, 1, 1, 1));
        var channelShape = g.Int64s("channel_shape", [-1, o, 1, 1], 4);
        var embedded = g.Node("Reshape", [g.Node("MatMul", [embeds, g.RandomWeights("embeds_projection", random, 2.0 / Math.Sqrt(e), e, o)]), channelShape]);
        var time = g.Node("Reshape", [g.Node("Mul", [g.Cast("timestep", DataType.Float), g.Floats("timestep_scale", [0.001f])]), g.Int64s("time_shape", [-1, 1, 1, 1], 4)]);
        var sum = g.Node("Add", [g.Node("Add", [convolved, embedded]), g.Node("Mul", [time, g.RandomWeights("timestep_bias", random, 1.0, 1, o, 1, 1)])]);
        g.FloatOutput("out_sample", g.Node("Tanh", [sum]), options.Float16, "batch", o, l, l);
        return g.Build();
    }

    private static void WriteOnnx(ModelProto model, string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        OnnxFiles.Write(model, path);
    }

    private static JsonArray Numbers(Random random, int count, double center, double spread)
    {
        var array = new JsonArray();
        for (int i = 0; i < count; i++)
        {
            array.Add((float)(center + ((random.NextDouble() * 2 - 1) * spread)));
        }

        return array;
    }

    private static JsonObject ModelIndex() => new()
    {
        ["_class_name"] = "KandinskyV22CombinedPipeline",
        ["_diffusers_version"] = "0.30.0",
        ["movq"] = new JsonArray("diffusers", "VQModel"),
        ["prior_prior"] = new JsonArray("diffusers", "PriorTransformer"),
        ["prior_scheduler"] = new JsonArray("diffusers", "UnCLIPScheduler"),
        ["prior_text_encoder"] = new JsonArray("transformers", "CLIPTextModelWithProjection"),
        ["prior_tokenizer"] = new JsonArray("transformers", "CLIPTokenizer"),
        ["scheduler"] = new JsonArray("diffusers", "DDPMScheduler"),
        ["unet"] = new JsonArray("diffusers", "UNet2DConditionModel"),
    };

    /// <summary>kandinsky-2-2-prior's scheduler: the prior predicts the embedding itself, clipped to [-10, 10].</summary>
    internal static JsonObject PriorSchedulerConfig() => new()
    {
        ["_class_name"] = "UnCLIPScheduler",
        ["_diffusers_version"] = "0.30.0",
        ["clip_sample"] = true,
        ["clip_sample_range"] = 10.0,
        ["num_train_timesteps"] = 1000,
        ["prediction_type"] = "sample",
        ["variance_type"] = "fixed_small_log",
    };

    /// <summary>kandinsky-2-2-decoder's scheduler: DDPM, linear betas, leading spacing, no clipping.</summary>
    private static JsonObject DecoderSchedulerConfig() => new()
    {
        ["_class_name"] = "DDPMScheduler",
        ["_diffusers_version"] = "0.30.0",
        ["beta_end"] = 0.012,
        ["beta_schedule"] = "linear",
        ["beta_start"] = 0.00085,
        ["clip_sample"] = false,
        ["clip_sample_range"] = 1.0,
        ["num_train_timesteps"] = 1000,
        ["prediction_type"] = "epsilon",
        ["sample_max_value"] = 1.0,
        ["steps_offset"] = 1,
        ["thresholding"] = false,
        ["timestep_spacing"] = "leading",
        ["variance_type"] = "fixed_small",
    };
}
