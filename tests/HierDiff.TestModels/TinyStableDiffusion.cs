using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace HierDiff.TestModels;

/// <summary>
/// Writes a tiny random Stable Diffusion 1.x pipeline in the folder layout of a diffusers/optimum ONNX export:
/// model_index.json, scheduler/, tokenizer/ (the real CLIP vocabulary), text_encoder/, unet/ and vae_decoder/, with
/// the input and output names, types and ranks of real exports. The weights are random, so the images are noise, but
/// every output depends on its inputs the way the pipeline relies on.
/// </summary>
public static class TinyStableDiffusion
{
    /// <summary>Ids of the text encoder's token table: input ids are taken modulo this prime.</summary>
    public const int TokenTableSize = 997;

    /// <summary>CLIP's vocabulary size (the tokenizer is the real one).</summary>
    public const int VocabularySize = 49408;

    /// <summary>Ratio of image size to latent size (the VAE's scale factor).</summary>
    public const int VaeScaleFactor = 8;

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true, NewLine = "\n" };

    /// <summary>Writes the export into <paramref name="directory"/> (created if missing) and returns the directory.</summary>
    public static string Write(string directory, TinyModelOptions? options = null)
    {
        options ??= new TinyModelOptions();
        Validate(options);
        Directory.CreateDirectory(directory);

        WriteJson(Path.Combine(directory, "model_index.json"), ModelIndex(options));
        WriteJson(Path.Combine(directory, "scheduler", "scheduler_config.json"), SchedulerConfig(options.SchedulerClass, options.PredictionType));

        WriteTokenizer(Path.Combine(directory, "tokenizer"), options.SequenceLength, options.PadToken);

        WriteJson(Path.Combine(directory, "text_encoder", "config.json"), TextEncoderConfig(options));
        OnnxFiles.Write(TextEncoder(options), Path.Combine(directory, "text_encoder", "model.onnx"));

        WriteJson(Path.Combine(directory, "unet", "config.json"), UNetConfig(options));
        var unet = UNet(options);
        var unetPath = Path.Combine(directory, "unet", "model.onnx");
        var unetData = Path.Combine(directory, "unet", "model.onnx_data");
        if (options.UNetExternalData)
        {
            OnnxFiles.WriteWithExternalData(unet, unetPath, "model.onnx_data");
        }
        else
        {
            File.Delete(unetData);
            OnnxFiles.Write(unet, unetPath);
        }

        WriteJson(Path.Combine(directory, "vae_decoder", "config.json"), VaeDecoderConfig(options));
        OnnxFiles.Write(VaeDecoder(options), Path.Combine(directory, "vae_decoder", "model.onnx"));
        return directory;
    }

    /// <summary>
    /// text_encoder/model.onnx: input_ids int32 (int64) [batch, S] to last_hidden_state [batch, S, H] and
    /// pooler_output [batch, H]. Token embedding (ids mod 997) plus position embedding, then one causal mixing layer
    /// (each position sees the mean of the positions up to it, as causal attention lets it), and the pooled vector is
    /// the hidden state at the first end token (the argmax of the ids, as in CLIP).
    /// </summary>
    private static ModelProto TextEncoder(TinyModelOptions options)
    {
        var random = new Random(unchecked(options.Seed * 31 + 1));
        int s = options.SequenceLength, h = options.HiddenSize;
        var g = new OnnxGraphBuilder("text_encoder");
        var idsType = options.InputIdsInt64 ? DataType.Int64 : DataType.Int32;
        g.Input("input_ids", idsType, "batch", s);

        var ids64 = options.InputIdsInt64 ? "input_ids" : g.Cast("input_ids", DataType.Int64);
        var ids32 = options.InputIdsInt64 ? g.Cast("input_ids", DataType.Int32) : "input_ids";
        var tokenIds = g.Node("Mod", [ids64, g.Int64s("token_table_size", [TokenTableSize])]);
        var tokens = g.Node("Gather", [g.RandomWeights("token_embedding", random, 1.0, TokenTableSize, h), tokenIds], null,
            OnnxGraphBuilder.IntAttribute("axis", 0));
        var embedded = g.Node("Add", [tokens, g.RandomWeights("position_embedding", random, 0.1, s, h)]);

        var prefixSum = g.Node("CumSum", [embedded, g.Int64s("sequence_axis", [1])]);
        var inverseCounts = Enumerable.Range(1, s).Select(i => 1f / i).ToArray();
        var prefixMean = g.Node("Mul", [prefixSum, g.Floats("inverse_position_counts", inverseCounts, s, 1)]);
        var scale = 1.5 / Math.Sqrt(h);
        var own = g.Node("MatMul", [embedded, g.RandomWeights("mix_self", random, 0.5 * scale, h, h)]);
        var context = g.Node("MatMul", [prefixMean, g.RandomWeights("mix_context", random, 3 * scale, h, h)]);
        var mixed = g.Node("Add", [g.Node("Add", [own, context]), g.RandomWeights("mix_bias", random, 0.1, h)]);
        var hidden = g.Node("Tanh", [mixed]);
        g.FloatOutput("last_hidden_state", hidden, options.Float16, "batch", s, h);

        var endPosition = g.Node("ArgMax", [ids32], null,
            OnnxGraphBuilder.IntAttribute("axis", 1), OnnxGraphBuilder.IntAttribute("keepdims", 1));
        var index = g.Node("Unsqueeze", [endPosition, g.Int64s("last_axis", [2], 1)]);
        var indices = g.Node("Expand", [index, g.Int64s("pooled_index_shape", [1, 1, h], 3)]);
        var pooled = g.Node("GatherElements", [hidden, indices], null, OnnxGraphBuilder.IntAttribute("axis", 1));
        var pooledFlat = g.Node("Squeeze", [pooled, g.Int64s("pooled_axis", [1], 1)]);
        g.FloatOutput("pooler_output", pooledFlat, options.Float16, "batch", h);
        return g.Build();
    }

    /// <summary>
    /// unet/model.onnx: sample [batch, C, height, width], timestep, encoder_hidden_states [batch, S, H] to out_sample
    /// [batch, C, height, width] = tanh(conv3x3(sample) + proj(mean over S of encoder_hidden_states) + timestep/1000 * bias).
    /// </summary>
    private static ModelProto UNet(TinyModelOptions options)
    {
        var random = new Random(unchecked(options.Seed * 31 + 2));
        int c = options.LatentChannels, s = options.SequenceLength, h = options.HiddenSize;
        var g = new OnnxGraphBuilder("unet");
        var sample = g.FloatInput("sample", options.Float16, "batch", c, "height", "width");

        string time = TimestepInput(g, options.Timestep, options.Float16);
        var conditioning = g.FloatInput("encoder_hidden_states", options.Float16, "batch", s, h);

        string convolved;
        if (options.UNetWidth > 0)
        {
            int w = options.UNetWidth;
            var hidden = g.Node("Relu", [g.Node("Conv",
                [sample, g.RandomWeights("hidden_weight", random, Math.Sqrt(3.0 / (9 * c)), w, c, 3, 3), g.RandomWeights("hidden_bias", random, 0.1, w)],
                null, OnnxGraphBuilder.IntsAttribute("kernel_shape", 3, 3), OnnxGraphBuilder.IntsAttribute("pads", 1, 1, 1, 1))]);
            convolved = g.Node("Conv",
                [hidden, g.RandomWeights("conv_weight", random, 0.5 * Math.Sqrt(3.0 / (9 * w)), c, w, 3, 3), g.RandomWeights("conv_bias", random, 0.1, c)],
                null, OnnxGraphBuilder.IntsAttribute("kernel_shape", 3, 3), OnnxGraphBuilder.IntsAttribute("pads", 1, 1, 1, 1));
        }
        else
        {
            convolved = g.Node("Conv",
                [sample, g.RandomWeights("conv_weight", random, 0.5 * Math.Sqrt(3.0 / (9 * c)), c, c, 3, 3), g.RandomWeights("conv_bias", random, 0.1, c)],
                null, OnnxGraphBuilder.IntsAttribute("kernel_shape", 3, 3), OnnxGraphBuilder.IntsAttribute("pads", 1, 1, 1, 1));
        }

        var channelShape = g.Int64s("channel_shape", [-1, c, 1, 1], 4);
        var pooled = g.Node("ReduceMean", [conditioning], null,
            OnnxGraphBuilder.IntsAttribute("axes", 1), OnnxGraphBuilder.IntAttribute("keepdims", 0));
        var projected = g.Node("MatMul", [pooled, g.RandomWeights("conditioning_projection", random, 4.0 / Math.Sqrt(h), h, c)]);
        var conditioningBias = g.Node("Reshape", [projected, channelShape]);

        var scaledTime = g.Node("Mul", [time, g.Floats("timestep_scale", [0.001f])]);
        var timeColumn = g.Node("Reshape", [scaledTime, g.Int64s("timestep_shape", [-1, 1, 1, 1], 4)]);
        var timeBias = g.Node("Mul", [timeColumn, g.RandomWeights("timestep_bias", random, 1.0, 1, c, 1, 1)]);

        var sum = g.Node("Add", [g.Node("Add", [convolved, conditioningBias]), timeBias]);
        g.FloatOutput("out_sample", g.Node("Tanh", [sum]), options.Float16, "batch", c, "height", "width");
        return g.Build();
    }

    /// <summary>The UNet's <c>timestep</c> input as an exporter types it; returns it as float32.</summary>
    internal static string TimestepInput(OnnxGraphBuilder g, TimestepKind kind, bool float16)
    {
        switch (kind)
        {
            case TimestepKind.Int64Batch:
                g.Input("timestep", DataType.Int64, "batch");
                return g.Cast("timestep", DataType.Float);
            case TimestepKind.Float32Batch:
                return g.FloatInput("timestep", float16, "batch");
            default:
                return g.FloatInput("timestep", float16);
        }
    }

    /// <summary>
    /// vae_decoder/model.onnx: latent_sample [batch, C, height, width] to sample [batch, 3, 8 height, 8 width] in [-1, 1]:
    /// a 1x1 convolution to 3 x 64 channels, DepthToSpace by 8, tanh.
    /// </summary>
    private static ModelProto VaeDecoder(TinyModelOptions options) => VaeDecoder(options.Seed, options.LatentChannels, options.Float16);

    internal static ModelProto VaeDecoder(int seed, int c, bool float16)
    {
        var random = new Random(unchecked(seed * 31 + 3));
        int f = VaeScaleFactor;
        var g = new OnnxGraphBuilder("vae_decoder");
        var latent = g.FloatInput("latent_sample", float16, "batch", c, "height", "width");
        var convolved = g.Node("Conv",
            [latent, g.RandomWeights("conv_weight", random, 0.5 / Math.Sqrt(c), 3 * f * f, c, 1, 1), g.RandomWeights("conv_bias", random, 0.2, 3 * f * f)],
            null, OnnxGraphBuilder.IntsAttribute("kernel_shape", 1, 1));
        var image = g.Node("DepthToSpace", [convolved], null,
            OnnxGraphBuilder.IntAttribute("blocksize", f), OnnxGraphBuilder.StringAttribute("mode", "DCR"));
        g.FloatOutput("sample", g.Node("Tanh", [image]), float16, "batch", 3, "image_height", "image_width");
        return g.Build();
    }

    private static JsonObject ModelIndex(TinyModelOptions options) => new()
    {
        ["_class_name"] = "OnnxStableDiffusionPipeline",
        ["_diffusers_version"] = "0.30.0",
        ["feature_extractor"] = new JsonArray(null, null),
        ["requires_safety_checker"] = false,
        ["safety_checker"] = new JsonArray(null, null),
        ["scheduler"] = new JsonArray("diffusers", options.SchedulerClass),
        ["text_encoder"] = new JsonArray("optimum", "ORTModelForFeatureExtraction"),
        ["tokenizer"] = new JsonArray("transformers", "CLIPTokenizer"),
        ["unet"] = new JsonArray("diffusers", "OnnxRuntimeModel"),
        ["vae_decoder"] = new JsonArray("diffusers", "OnnxRuntimeModel"),
    };

    internal static JsonObject SchedulerConfig(string schedulerClass, string predictionType) => new()
    {
        ["_class_name"] = schedulerClass,
        ["_diffusers_version"] = "0.30.0",
        ["beta_end"] = 0.012,
        ["beta_schedule"] = "scaled_linear",
        ["beta_start"] = 0.00085,
        ["clip_sample"] = false,
        ["num_train_timesteps"] = 1000,
        ["prediction_type"] = predictionType,
        ["set_alpha_to_one"] = false,
        ["skip_prk_steps"] = true,
        ["steps_offset"] = 1,
        ["timestep_spacing"] = "leading",
        ["trained_betas"] = null,
    };

    /// <summary>A tokenizer folder with the real CLIP vocabulary; SD 2.x and SDXL's second tokenizer pad with "!".</summary>
    internal static void WriteTokenizer(string tokenizer, int sequenceLength, string padToken)
    {
        Directory.CreateDirectory(tokenizer);
        foreach (var file in new[] { "vocab.json", "merges.txt" })
        {
            File.Copy(Path.Combine(AppContext.BaseDirectory, "TestData", "clip", file), Path.Combine(tokenizer, file), overwrite: true);
        }

        WriteJson(Path.Combine(tokenizer, "tokenizer_config.json"), TokenizerConfig(sequenceLength, padToken));
        WriteJson(Path.Combine(tokenizer, "special_tokens_map.json"), SpecialTokensMap(padToken));
    }

    private static JsonObject TokenizerConfig(int sequenceLength, string padToken) => new()
    {
        ["add_prefix_space"] = false,
        ["bos_token"] = AddedToken("<|startoftext|>", withType: true),
        ["do_lower_case"] = true,
        ["eos_token"] = AddedToken("<|endoftext|>", withType: true),
        ["errors"] = "replace",
        ["model_max_length"] = sequenceLength,
        ["name_or_path"] = "openai/clip-vit-large-patch14",
        ["pad_token"] = padToken,
        ["special_tokens_map_file"] = "./special_tokens_map.json",
        ["tokenizer_class"] = "CLIPTokenizer",
        ["unk_token"] = AddedToken("<|endoftext|>", withType: true),
    };

    private static JsonObject SpecialTokensMap(string padToken) => new()
    {
        ["bos_token"] = AddedToken("<|startoftext|>", withType: false),
        ["eos_token"] = AddedToken("<|endoftext|>", withType: false),
        ["pad_token"] = padToken,
        ["unk_token"] = AddedToken("<|endoftext|>", withType: false),
    };

    private static JsonObject AddedToken(string content, bool withType)
    {
        var token = new JsonObject();
        if (withType)
        {
            token["__type"] = "AddedToken";
        }

        token["content"] = content;
        token["lstrip"] = false;
        token["normalized"] = true;
        token["rstrip"] = false;
        token["single_word"] = false;
        return token;
    }

    private static JsonObject TextEncoderConfig(TinyModelOptions options) => new()
    {
        ["_name_or_path"] = "openai/clip-vit-large-patch14",
        ["architectures"] = new JsonArray("CLIPTextModel"),
        ["bos_token_id"] = 49406,
        ["eos_token_id"] = 49407,
        ["hidden_size"] = options.HiddenSize,
        ["max_position_embeddings"] = options.SequenceLength,
        ["model_type"] = "clip_text_model",
        ["pad_token_id"] = 1,
        ["torch_dtype"] = options.Float16 ? "float16" : "float32",
        ["vocab_size"] = VocabularySize,
    };

    private static JsonObject UNetConfig(TinyModelOptions options) => new()
    {
        ["_class_name"] = "UNet2DConditionModel",
        ["_diffusers_version"] = "0.30.0",
        ["cross_attention_dim"] = options.HiddenSize,
        ["in_channels"] = options.LatentChannels,
        ["out_channels"] = options.LatentChannels,
        ["sample_size"] = options.LatentSize,
    };

    private static JsonObject VaeDecoderConfig(TinyModelOptions options) => VaeDecoderConfig(options.LatentChannels, options.LatentSize, 0.18215);

    internal static JsonObject VaeDecoderConfig(int latentChannels, int latentSize, double scalingFactor) => new()
    {
        ["_class_name"] = "AutoencoderKL",
        ["_diffusers_version"] = "0.30.0",
        ["block_out_channels"] = new JsonArray(128, 256, 512, 512),
        ["in_channels"] = 3,
        ["latent_channels"] = latentChannels,
        ["out_channels"] = 3,
        ["sample_size"] = latentSize * VaeScaleFactor,
        ["scaling_factor"] = scalingFactor,
    };

    internal static void WriteJson(string path, JsonObject json)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, json.ToJsonString(JsonOptions) + "\n", new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
    }

    private static void Validate(TinyModelOptions options)
    {
        Positive(options.HiddenSize, nameof(options.HiddenSize));
        Positive(options.LatentChannels, nameof(options.LatentChannels));
        Positive(options.LatentSize, nameof(options.LatentSize));
        Positive(options.SequenceLength, nameof(options.SequenceLength));
        if (!Enum.IsDefined(options.Timestep))
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Timestep, "Unknown timestep kind.");
        }

        if (string.IsNullOrWhiteSpace(options.SchedulerClass))
        {
            throw new ArgumentException("SchedulerClass must name a scheduler.", nameof(options));
        }
    }

    internal static void Positive(int value, string name)
    {
        if (value <= 0)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be positive.");
        }
    }
}
