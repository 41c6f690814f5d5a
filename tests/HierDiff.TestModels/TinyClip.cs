using System.Text.Json.Nodes;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace HierDiff.TestModels;

/// <summary>How <see cref="TinyClip"/> lays out its export: one model.onnx (optimum's CLIP feature-extraction export)
/// or text_model.onnx and vision_model.onnx (optimum's "split" variant).</summary>
public enum ClipLayout
{
    Monolith,
    Split,
}

/// <summary>
/// Writes a tiny random CLIP in the layout optimum exports <c>openai/clip-vit-base-patch32</c> to: model.onnx
/// (input_ids, pixel_values, attention_mask → logits_per_image, logits_per_text, text_embeds, image_embeds) or
/// text_model.onnx and vision_model.onnx, with config.json, preprocessor_config.json (the real model's) and the
/// tokenizer files beside it. Both layouts compute the same embeddings from the same weights.
/// <list type="bullet">
/// <item>text: token and position embeddings, times the attention mask; the running mean over positions (causal, as
/// CLIP's attention), mixed through tanh; pooled at the first end token (argmax of the ids, as CLIP); projected;</item>
/// <item>vision: a 32 x 32 stride-32 patch convolution (ViT-B/32's patches), tanh, the mean over patches, projected;</item>
/// <item>both embeddings are normalised to unit length, as CLIPModel's outputs are; logits are 100 x their dot products.</item>
/// </list>
/// Every output depends on every input: a changed token, mask entry or pixel moves its embedding.
/// </summary>
public static class TinyClip
{
    public const int SequenceLength = 77;
    public const int ImageSize = 224;
    public const int PatchSize = 32;
    public const int ProjectionDim = 12;
    private const int Hidden = 16;

    public static string Write(string directory, ClipLayout layout = ClipLayout.Monolith, int seed = 1)
    {
        Directory.CreateDirectory(directory);
        TinyStableDiffusion.WriteTokenizer(directory, SequenceLength, "<|endoftext|>");
        TinyStableDiffusion.WriteJson(Path.Combine(directory, "config.json"), Config());
        TinyStableDiffusion.WriteJson(Path.Combine(directory, "preprocessor_config.json"), PreprocessorConfig());
        if (layout == ClipLayout.Monolith)
        {
            OnnxFiles.Write(Graph(seed, text: true, vision: true), Path.Combine(directory, "model.onnx"));
        }
        else
        {
            OnnxFiles.Write(Graph(seed, text: true, vision: false), Path.Combine(directory, "text_model.onnx"));
            OnnxFiles.Write(Graph(seed, text: false, vision: true), Path.Combine(directory, "vision_model.onnx"));
        }

        return directory;
    }

    /// <summary>openai/clip-vit-base-patch32's preprocessor_config.json, as published (CLIPFeatureExtractor's old
    /// integer sizes).</summary>
    public static JsonObject PreprocessorConfig() => new()
    {
        ["crop_size"] = ImageSize,
        ["do_center_crop"] = true,
        ["do_normalize"] = true,
        ["do_resize"] = true,
        ["feature_extractor_type"] = "CLIPFeatureExtractor",
        ["image_mean"] = new JsonArray(0.48145466, 0.4578275, 0.40821073),
        ["image_std"] = new JsonArray(0.26862954, 0.26130258, 0.27577711),
        ["resample"] = 3,
        ["size"] = ImageSize,
    };

    private static JsonObject Config() => new()
    {
        ["architectures"] = new JsonArray("CLIPModel"),
        ["model_type"] = "clip",
        ["projection_dim"] = ProjectionDim,
        ["logit_scale_init_value"] = 2.6592,
        ["text_config"] = new JsonObject { ["hidden_size"] = Hidden, ["max_position_embeddings"] = SequenceLength },
        ["vision_config"] = new JsonObject { ["hidden_size"] = Hidden, ["image_size"] = ImageSize, ["patch_size"] = PatchSize },
    };

    private static ModelProto Graph(int seed, bool text, bool vision)
    {
        // One generator per tower, so the split files hold exactly the monolith's weights.
        var g = new OnnxGraphBuilder(text && vision ? "clip" : text ? "clip_text" : "clip_vision");
        string? textEmbeds = null, imageEmbeds = null;
        if (vision)
        {
            g.Input("pixel_values", DataType.Float, "batch_size", "num_channels", "height", "width");
        }

        if (text)
        {
            g.Input("input_ids", DataType.Int64, "text_batch_size", "sequence_length");
            g.Input("attention_mask", DataType.Int64, "text_batch_size", "sequence_length");
            textEmbeds = Normalised(g, TextTower(g, new Random(unchecked((seed * 131) + 1))), "text");
        }

        if (vision)
        {
            imageEmbeds = Normalised(g, VisionTower(g, new Random(unchecked((seed * 131) + 2))), "image");
        }

        if (text && vision)
        {
            var perImage = g.Node("Mul", [g.Node("MatMul", [imageEmbeds!, g.Node("Transpose", [textEmbeds!], null, OnnxGraphBuilder.IntsAttribute("perm", 1, 0))]), g.Floats("logit_scale", [100f])]);
            g.FloatOutput("logits_per_image", perImage, false, "image_batch_size", "text_batch_size");
            g.FloatOutput("logits_per_text", g.Node("Transpose", [perImage], null, OnnxGraphBuilder.IntsAttribute("perm", 1, 0)), false, "text_batch_size", "image_batch_size");
        }

        if (textEmbeds is not null)
        {
            g.FloatOutput("text_embeds", textEmbeds, false, text && vision ? "text_batch_size" : "batch_size", ProjectionDim);
        }

        if (imageEmbeds is not null)
        {
            g.FloatOutput("image_embeds", imageEmbeds, false, text && vision ? "image_batch_size" : "batch_size", ProjectionDim);
        }

        return g.Build();
    }

    private static string TextTower(OnnxGraphBuilder g, Random random)
    {
        int h = Hidden, s = SequenceLength;
        var tokenIds = g.Node("Mod", ["input_ids", g.Int64s("token_table_size", [TinyStableDiffusion.TokenTableSize])]);
        var tokens = g.Node("Gather", [g.RandomWeights("token_embedding", random, 1.0, TinyStableDiffusion.TokenTableSize, h), tokenIds], null,
            OnnxGraphBuilder.IntAttribute("axis", 0));
        var embedded = g.Node("Add", [tokens, g.RandomWeights("position_embedding", random, 0.1, s, h)]);
        var mask = g.Node("Unsqueeze", [g.Cast("attention_mask", DataType.Float), g.Int64s("mask_axis", [2], 1)]);
        var masked = g.Node("Mul", [embedded, mask]);
        var inverseCounts = g.Floats("inverse_position_counts", Enumerable.Range(1, s).Select(i => 1f / i).ToArray(), s, 1);
        var prefixMean = g.Node("Mul", [g.Node("CumSum", [masked, g.Int64s("sequence_axis", [1])]), inverseCounts]);
        double scale = 1.5 / Math.Sqrt(h);
        var own = g.Node("MatMul", [masked, g.RandomWeights("mix_self", random, 0.8 * scale, h, h)]);
        var context = g.Node("MatMul", [prefixMean, g.RandomWeights("mix_context", random, 3 * scale, h, h)]);
        var states = g.Node("Tanh", [g.Node("Add", [g.Node("Add", [own, context]), g.RandomWeights("mix_bias", random, 0.1, h)])]);
        var endPosition = g.Node("ArgMax", ["input_ids"], null, OnnxGraphBuilder.IntAttribute("axis", 1), OnnxGraphBuilder.IntAttribute("keepdims", 1));
        var index = g.Node("Expand", [g.Node("Unsqueeze", [endPosition, g.Int64s("last_axis", [2], 1)]), g.Int64s("pooled_index_shape", [1, 1, h], 3)]);
        var pooled = g.Node("Squeeze", [g.Node("GatherElements", [states, index], null, OnnxGraphBuilder.IntAttribute("axis", 1)), g.Int64s("pooled_axis", [1], 1)]);
        return g.Node("MatMul", [pooled, g.RandomWeights("text_projection", random, 2 * scale, h, ProjectionDim)]);
    }

    private static string VisionTower(OnnxGraphBuilder g, Random random)
    {
        int h = Hidden, p = PatchSize;
        var patches = g.Node("Conv", ["pixel_values", g.RandomWeights("patch_embedding", random, 1.0 / p, h, 3, p, p)], null,
            OnnxGraphBuilder.IntsAttribute("kernel_shape", p, p), OnnxGraphBuilder.IntsAttribute("strides", p, p));
        var activated = g.Node("Tanh", [g.Node("Add", [patches, g.RandomWeights("patch_bias", random, 0.1, h, 1, 1)])]);
        var pooled = g.Node("ReduceMean", [activated], null, OnnxGraphBuilder.IntsAttribute("axes", 2, 3), OnnxGraphBuilder.IntAttribute("keepdims", 0));
        return g.Node("MatMul", [pooled, g.RandomWeights("visual_projection", random, 2.0 / Math.Sqrt(h), h, ProjectionDim)]);
    }

    /// <summary>x / ||x|| over the last axis.</summary>
    private static string Normalised(OnnxGraphBuilder g, string x, string name)
    {
        var norm = g.Node("Sqrt", [g.Node("ReduceSum", [g.Node("Mul", [x, x]), g.Int64s($"{name}_norm_axis", [1], 1)], null, OnnxGraphBuilder.IntAttribute("keepdims", 1))]);
        return g.Node("Div", [x, norm]);
    }
}
