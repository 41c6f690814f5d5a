using System.Text.Json.Nodes;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace HierDiff.TestModels;

/// <summary>Shape and typing of the tiny SDXL export that <see cref="TinyStableDiffusionXL"/> writes, and the ways it
/// can be made wrong on purpose.</summary>
public sealed record TinyXlOptions
{
    /// <summary>Hidden width of text_encoder (CLIP ViT-L: 768).</summary>
    public int HiddenSize { get; init; } = 12;

    /// <summary>Hidden width of text_encoder_2 (OpenCLIP bigG: 1280).</summary>
    public int HiddenSize2 { get; init; } = 20;

    /// <summary>text_encoder_2's projection, the width of text_embeds (1280).</summary>
    public int ProjectionDim { get; init; } = 16;

    /// <summary>Layers per text encoder: hidden_states.0 (the embeddings) to hidden_states.Layers.</summary>
    public int Layers { get; init; } = 2;

    public int SequenceLength { get; init; } = 77;

    public int LatentChannels { get; init; } = 4;

    /// <summary>unet/config.json's sample_size (128 for SDXL: 1024 px); images are 8 times larger.</summary>
    public int LatentSize { get; init; } = 8;

    /// <summary>optimum's newest exports give the UNet a float scalar timestep.</summary>
    public TimestepKind Timestep { get; init; } = TimestepKind.Float32Scalar;

    /// <summary>float16 inputs and outputs, as in <c>--dtype fp16</c> exports.</summary>
    public bool Float16 { get; init; }

    public int Seed { get; init; } = 1;

    public string SchedulerClass { get; init; } = "EulerDiscreteScheduler";

    /// <summary>model_index.json's force_zeros_for_empty_prompt (true for SDXL base).</summary>
    public bool ForceZerosForEmptyPrompt { get; init; } = true;

    /// <summary>Width of the UNet's encoder_hidden_states; null gives the right one, HiddenSize + HiddenSize2.</summary>
    public int? UNetHiddenSize { get; init; }

    /// <summary>A UNet without time_ids (an export of a different model).</summary>
    public bool OmitTimeIds { get; init; }

    /// <summary>Text encoders without hidden_states.N outputs (exported without output_hidden_states).</summary>
    public bool OmitHiddenStates { get; init; }
}

/// <summary>
/// Writes a tiny random SDXL pipeline in the folder layout optimum's ONNX exporter writes: model_index.json,
/// scheduler/, tokenizer/ and tokenizer_2/ (the real CLIP vocabulary; the second pads with "!"), text_encoder/
/// (last_hidden_state, pooler_output, hidden_states.0..L), text_encoder_2/ (text_embeds, last_hidden_state,
/// hidden_states.0..L), unet/ (sample, timestep, encoder_hidden_states, text_embeds, time_ids → out_sample) and
/// vae_decoder/ with SDXL's scaling_factor. Every output depends on every input, so a wiring mistake shows.
/// </summary>
public static class TinyStableDiffusionXL
{
    public const double ScalingFactor = 0.13025;

    public static string Write(string directory, TinyXlOptions? options = null)
    {
        options ??= new TinyXlOptions();
        TinyStableDiffusion.Positive(options.HiddenSize, nameof(options.HiddenSize));
        TinyStableDiffusion.Positive(options.HiddenSize2, nameof(options.HiddenSize2));
        TinyStableDiffusion.Positive(options.ProjectionDim, nameof(options.ProjectionDim));
        TinyStableDiffusion.Positive(options.Layers, nameof(options.Layers));
        Directory.CreateDirectory(directory);

        TinyStableDiffusion.WriteJson(Path.Combine(directory, "model_index.json"), ModelIndex(options));
        TinyStableDiffusion.WriteJson(Path.Combine(directory, "scheduler", "scheduler_config.json"), SchedulerConfig(options));
        TinyStableDiffusion.WriteTokenizer(Path.Combine(directory, "tokenizer"), options.SequenceLength, "<|endoftext|>");
        TinyStableDiffusion.WriteTokenizer(Path.Combine(directory, "tokenizer_2"), options.SequenceLength, "!");

        TinyStableDiffusion.WriteJson(Path.Combine(directory, "text_encoder", "config.json"), TextEncoderConfig(options, "CLIPTextModel", options.HiddenSize));
        OnnxFiles.Write(TextEncoder(options, options.HiddenSize, projection: null, salt: 1), Path.Combine(directory, "text_encoder", "model.onnx"));
        TinyStableDiffusion.WriteJson(Path.Combine(directory, "text_encoder_2", "config.json"), TextEncoderConfig(options, "CLIPTextModelWithProjection", options.HiddenSize2));
        OnnxFiles.Write(TextEncoder(options, options.HiddenSize2, options.ProjectionDim, salt: 2), Path.Combine(directory, "text_encoder_2", "model.onnx"));

        TinyStableDiffusion.WriteJson(Path.Combine(directory, "unet", "config.json"), UNetConfig(options));
        OnnxFiles.Write(UNet(options), Path.Combine(directory, "unet", "model.onnx"));

        TinyStableDiffusion.WriteJson(Path.Combine(directory, "vae_decoder", "config.json"),
            TinyStableDiffusion.VaeDecoderConfig(options.LatentChannels, options.LatentSize, ScalingFactor));
        OnnxFiles.Write(TinyStableDiffusion.VaeDecoder(options.Seed, options.LatentChannels, options.Float16), Path.Combine(directory, "vae_decoder", "model.onnx"));
        return directory;
    }

    /// <summary>
    /// input_ids int32 [batch, S] → hidden_states.0 (token + position embeddings), hidden_states.l = tanh(own
    /// mixing + causal context of hidden_states.(l-1)), last_hidden_state = tanh(hidden_states.L x W) (standing in
    /// for CLIP's final layer norm), the pooled vector at the first end token (argmax of the ids), and with a
    /// projection text_embeds = pooled x P, as CLIPTextModelWithProjection.
    /// </summary>
    internal static ModelProto TextEncoder(TinyXlOptions options, int h, int? projection, int salt)
    {
        var random = new Random(unchecked((options.Seed * 131) + salt));
        int s = options.SequenceLength;
        var g = new OnnxGraphBuilder(projection is null ? "text_encoder" : "text_encoder_2");
        g.Input("input_ids", DataType.Int32, "batch", "sequence_length");
        var ids64 = g.Cast("input_ids", DataType.Int64);
        var tokenIds = g.Node("Mod", [ids64, g.Int64s("token_table_size", [TinyStableDiffusion.TokenTableSize])]);
        var tokens = g.Node("Gather", [g.RandomWeights("token_embedding", random, 1.0, TinyStableDiffusion.TokenTableSize, h), tokenIds], null,
            OnnxGraphBuilder.IntAttribute("axis", 0));
        var layer = g.Node("Add", [tokens, g.RandomWeights("position_embedding", random, 0.1, s, h)]);
        var layers = new List<string> { layer };

        var inverseCounts = g.Floats("inverse_position_counts", Enumerable.Range(1, s).Select(i => 1f / i).ToArray(), s, 1);
        double scale = 1.5 / Math.Sqrt(h);
        for (int l = 1; l <= options.Layers; l++)
        {
            var prefixMean = g.Node("Mul", [g.Node("CumSum", [layer, g.Int64s($"sequence_axis_{l}", [1])]), inverseCounts]);
            var own = g.Node("MatMul", [layer, g.RandomWeights($"mix_self_{l}", random, 0.8 * scale, h, h)]);
            var context = g.Node("MatMul", [prefixMean, g.RandomWeights($"mix_context_{l}", random, 3 * scale, h, h)]);
            layer = g.Node("Tanh", [g.Node("Add", [g.Node("Add", [own, context]), g.RandomWeights($"mix_bias_{l}", random, 0.1, h)])]);
            layers.Add(layer);
        }

        var last = g.Node("Tanh", [g.Node("MatMul", [layer, g.RandomWeights("final_norm", random, 2 * scale, h, h)])]);
        var endPosition = g.Node("ArgMax", ["input_ids"], null, OnnxGraphBuilder.IntAttribute("axis", 1), OnnxGraphBuilder.IntAttribute("keepdims", 1));
        var index = g.Node("Expand", [g.Node("Unsqueeze", [endPosition, g.Int64s("last_axis", [2], 1)]), g.Int64s("pooled_index_shape", [1, 1, h], 3)]);
        var pooled = g.Node("Squeeze", [g.Node("GatherElements", [last, index], null, OnnxGraphBuilder.IntAttribute("axis", 1)), g.Int64s("pooled_axis", [1], 1)]);

        // Outputs in the order optimum's CLIPTextOnnxConfig / CLIPTextWithProjectionOnnxConfig list them.
        if (projection is int p)
        {
            var projected = g.Node("MatMul", [pooled, g.RandomWeights("text_projection", random, 2 * scale, h, p)]);
            g.FloatOutput("text_embeds", projected, options.Float16, "batch", p);
            g.FloatOutput("last_hidden_state", last, options.Float16, "batch", "sequence_length", h);
        }
        else
        {
            g.FloatOutput("last_hidden_state", last, options.Float16, "batch", "sequence_length", h);
            g.FloatOutput("pooler_output", pooled, options.Float16, "batch", h);
        }

        if (!options.OmitHiddenStates)
        {
            for (int l = 0; l < layers.Count; l++)
            {
                g.FloatOutput($"hidden_states.{l}", layers[l], options.Float16, "batch", "sequence_length", h);
            }
        }

        return g.Build();
    }

    /// <summary>
    /// sample, timestep, encoder_hidden_states [batch, S, H1 + H2], text_embeds [batch, P], time_ids [batch, 6] →
    /// out_sample = tanh(conv3x3(sample) + (mean over S of encoder_hidden_states) x A + text_embeds x B +
    /// time_ids / 1024 x C + timestep / 1000 x d), each term per channel.
    /// </summary>
    private static ModelProto UNet(TinyXlOptions options)
    {
        var random = new Random(unchecked((options.Seed * 131) + 3));
        int c = options.LatentChannels, h = options.UNetHiddenSize ?? (options.HiddenSize + options.HiddenSize2), p = options.ProjectionDim;
        var g = new OnnxGraphBuilder("unet");
        var sample = g.FloatInput("sample", options.Float16, "batch", c, "height", "width");
        string time = TinyStableDiffusion.TimestepInput(g, options.Timestep, options.Float16);
        var hidden = g.FloatInput("encoder_hidden_states", options.Float16, "batch", "sequence_length", h);
        var textEmbeds = g.FloatInput("text_embeds", options.Float16, "batch", p);
        string? timeIds = options.OmitTimeIds ? null : g.FloatInput("time_ids", options.Float16, "batch", 6);

        var convolved = g.Node("Conv",
            [sample, g.RandomWeights("conv_weight", random, 0.5 * Math.Sqrt(3.0 / (9 * c)), c, c, 3, 3), g.RandomWeights("conv_bias", random, 0.1, c)],
            null, OnnxGraphBuilder.IntsAttribute("kernel_shape", 3, 3), OnnxGraphBuilder.IntsAttribute("pads", 1, 1, 1, 1));
        var channelShape = g.Int64s("channel_shape", [-1, c, 1, 1], 4);
        string PerChannel(string vector, string name, int width, double weight) =>
            g.Node("Reshape", [g.Node("MatMul", [vector, g.RandomWeights(name, random, weight / Math.Sqrt(width), width, c)]), channelShape]);

        var meanHidden = g.Node("ReduceMean", [hidden], null, OnnxGraphBuilder.IntsAttribute("axes", 1), OnnxGraphBuilder.IntAttribute("keepdims", 0));
        var sum = g.Node("Add", [convolved, PerChannel(meanHidden, "hidden_projection", h, 4.0)]);
        sum = g.Node("Add", [sum, PerChannel(textEmbeds, "text_embeds_projection", p, 2.0)]);
        if (timeIds is not null)
        {
            var scaledIds = g.Node("Mul", [timeIds, g.Floats("time_ids_scale", [1f / 1024])]);
            sum = g.Node("Add", [sum, PerChannel(scaledIds, "time_ids_projection", 6, 2.0)]);
        }

        var scaledTime = g.Node("Reshape", [g.Node("Mul", [time, g.Floats("timestep_scale", [0.001f])]), g.Int64s("timestep_shape", [-1, 1, 1, 1], 4)]);
        sum = g.Node("Add", [sum, g.Node("Mul", [scaledTime, g.RandomWeights("timestep_bias", random, 1.0, 1, c, 1, 1)])]);
        g.FloatOutput("out_sample", g.Node("Tanh", [sum]), options.Float16, "batch", c, "height", "width");
        return g.Build();
    }

    private static JsonObject ModelIndex(TinyXlOptions options) => new()
    {
        ["_class_name"] = "StableDiffusionXLPipeline",
        ["_diffusers_version"] = "0.30.0",
        ["force_zeros_for_empty_prompt"] = options.ForceZerosForEmptyPrompt,
        ["scheduler"] = new JsonArray("diffusers", options.SchedulerClass),
        ["text_encoder"] = new JsonArray("transformers", "CLIPTextModel"),
        ["text_encoder_2"] = new JsonArray("transformers", "CLIPTextModelWithProjection"),
        ["tokenizer"] = new JsonArray("transformers", "CLIPTokenizer"),
        ["tokenizer_2"] = new JsonArray("transformers", "CLIPTokenizer"),
        ["unet"] = new JsonArray("diffusers", "UNet2DConditionModel"),
        ["vae"] = new JsonArray("diffusers", "AutoencoderKL"),
    };

    /// <summary>SDXL base's scheduler config (EulerDiscreteScheduler, leading spacing).</summary>
    private static JsonObject SchedulerConfig(TinyXlOptions options)
    {
        JsonObject config = TinyStableDiffusion.SchedulerConfig(options.SchedulerClass, "epsilon");
        config["interpolation_type"] = "linear";
        config["use_karras_sigmas"] = false;
        config["sample_max_value"] = 1.0;
        return config;
    }

    private static JsonObject TextEncoderConfig(TinyXlOptions options, string architecture, int hiddenSize) => new()
    {
        ["architectures"] = new JsonArray(architecture),
        ["hidden_size"] = hiddenSize,
        ["max_position_embeddings"] = options.SequenceLength,
        ["model_type"] = "clip_text_model",
        ["num_hidden_layers"] = options.Layers,
        ["projection_dim"] = architecture == "CLIPTextModelWithProjection" ? options.ProjectionDim : hiddenSize,
        ["torch_dtype"] = options.Float16 ? "float16" : "float32",
        ["vocab_size"] = TinyStableDiffusion.VocabularySize,
    };

    private static JsonObject UNetConfig(TinyXlOptions options) => new()
    {
        ["_class_name"] = "UNet2DConditionModel",
        ["addition_embed_type"] = "text_time",
        ["addition_time_embed_dim"] = 256,
        ["cross_attention_dim"] = options.UNetHiddenSize ?? (options.HiddenSize + options.HiddenSize2),
        ["in_channels"] = options.LatentChannels,
        ["out_channels"] = options.LatentChannels,
        ["projection_class_embeddings_input_dim"] = options.ProjectionDim + (6 * 256),
        ["sample_size"] = options.LatentSize,
    };
}
