using System.Text.Json.Nodes;
using HierDiff.TestModels;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using OnnxModel = global::Onnx.ModelProto;
using OnnxTensor = global::Onnx.TensorProto;

namespace HierDiff.Models.Tests.Fixtures;

public sealed class TinyStableDiffusionTests
{
    private const int Batch = 2;
    private const int StartToken = 49406;
    private const int EndToken = 49407;

    /// <summary>Each timestep kind, float16, int64 ids and external data at least once (not the full product).</summary>
    public static TheoryData<TimestepKind, bool, bool, bool> Variants => new()
    {
        { TimestepKind.Int64Batch, false, false, false },
        { TimestepKind.Float32Batch, false, true, false },
        { TimestepKind.Float32Scalar, false, false, true },
        { TimestepKind.Float32Batch, true, false, true },
        { TimestepKind.Float32Scalar, true, true, false },
        { TimestepKind.Int64Batch, true, true, true },
    };

    private static TinyModelOptions Options(TimestepKind timestep, bool float16, bool idsInt64, bool external) => new()
    {
        Timestep = timestep,
        Float16 = float16,
        InputIdsInt64 = idsInt64,
        UNetExternalData = external,
    };

    [Theory]
    [MemberData(nameof(Variants))]
    public void Folder_HasEveryFileOfAnExport(TimestepKind timestep, bool float16, bool idsInt64, bool external)
    {
        using var temp = new TempDirectory();
        var folder = TinyStableDiffusion.Write(temp.Sub("model"), Options(timestep, float16, idsInt64, external));

        var expected = new List<string>
        {
            "model_index.json",
            "scheduler/scheduler_config.json",
            "text_encoder/config.json",
            "text_encoder/model.onnx",
            "tokenizer/merges.txt",
            "tokenizer/special_tokens_map.json",
            "tokenizer/tokenizer_config.json",
            "tokenizer/vocab.json",
            "unet/config.json",
            "unet/model.onnx",
            "vae_decoder/config.json",
            "vae_decoder/model.onnx",
        };
        if (external)
        {
            expected.Add("unet/model.onnx_data");
        }

        Assert.Equal(expected.Order(StringComparer.Ordinal), RelativeFiles(folder));
        Assert.Equal(
            File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "TestData", "clip", "vocab.json")),
            File.ReadAllBytes(Path.Combine(folder, "tokenizer", "vocab.json")));
        Assert.Equal(
            File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "TestData", "clip", "merges.txt")),
            File.ReadAllBytes(Path.Combine(folder, "tokenizer", "merges.txt")));
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void Sessions_HaveTheExportsNamesTypesAndRanks(TimestepKind timestep, bool float16, bool idsInt64, bool external)
    {
        using var temp = new TempDirectory();
        var options = Options(timestep, float16, idsInt64, external);
        var folder = TinyStableDiffusion.Write(temp.Sub("model"), options);
        var floatType = float16 ? TensorElementType.Float16 : TensorElementType.Float;
        int h = options.HiddenSize, s = options.SequenceLength, c = options.LatentChannels;

        using (var text = Open(folder, "text_encoder"))
        {
            Assert.Equal(["input_ids"], text.InputMetadata.Keys);
            AssertTensor(text.InputMetadata["input_ids"], idsInt64 ? TensorElementType.Int64 : TensorElementType.Int32, -1, s);
            Assert.Equal("batch", text.InputMetadata["input_ids"].SymbolicDimensions[0]);
            Assert.Equal(["last_hidden_state", "pooler_output"], text.OutputMetadata.Keys.Order(StringComparer.Ordinal));
            AssertTensor(text.OutputMetadata["last_hidden_state"], floatType, -1, s, h);
            AssertTensor(text.OutputMetadata["pooler_output"], floatType, -1, h);
        }

        using (var unet = Open(folder, "unet"))
        {
            Assert.Equal(["encoder_hidden_states", "sample", "timestep"], unet.InputMetadata.Keys.Order(StringComparer.Ordinal));
            AssertTensor(unet.InputMetadata["sample"], floatType, -1, c, -1, -1);
            AssertTensor(unet.InputMetadata["encoder_hidden_states"], floatType, -1, s, h);
            switch (timestep)
            {
                case TimestepKind.Int64Batch:
                    AssertTensor(unet.InputMetadata["timestep"], TensorElementType.Int64, -1);
                    break;
                case TimestepKind.Float32Batch:
                    AssertTensor(unet.InputMetadata["timestep"], floatType, -1);
                    break;
                default:
                    AssertTensor(unet.InputMetadata["timestep"], floatType);
                    break;
            }

            Assert.Equal(["out_sample"], unet.OutputMetadata.Keys);
            AssertTensor(unet.OutputMetadata["out_sample"], floatType, -1, c, -1, -1);
        }

        using (var vae = Open(folder, "vae_decoder"))
        {
            Assert.Equal(["latent_sample"], vae.InputMetadata.Keys);
            AssertTensor(vae.InputMetadata["latent_sample"], floatType, -1, c, -1, -1);
            Assert.Equal(["sample"], vae.OutputMetadata.Keys);
            AssertTensor(vae.OutputMetadata["sample"], floatType, -1, 3, -1, -1);
        }
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void TextEncoder_PoolsTheEndTokensStateAndSeparatesPrompts(TimestepKind timestep, bool float16, bool idsInt64, bool external)
    {
        using var temp = new TempDirectory();
        var options = Options(timestep, float16, idsInt64, external);
        var folder = TinyStableDiffusion.Write(temp.Sub("model"), options);
        int s = options.SequenceLength, h = options.HiddenSize;
        using var text = Open(folder, "text_encoder");

        // "a photo of a cat" twice: equal rows give equal outputs.
        var cat = Prompt(s, 320, 1125, 539, 320, 2368);
        var dog = Prompt(s, 320, 1125, 539, 320, 1929);
        var same = EncodeText(text, s, cat, cat);
        Assert.Equal([Batch, s, h], same["last_hidden_state"].Shape);
        Assert.Equal([Batch, h], same["pooler_output"].Shape);
        AssertFinite(same["last_hidden_state"].Values);
        AssertFinite(same["pooler_output"].Values);
        var pooled = same["pooler_output"].Values;
        Assert.Equal(pooled[..h], pooled[h..]);

        // The pooled vector is the hidden state at the first end token (position 6), as in CLIP.
        var hidden = same["last_hidden_state"].Values;
        Assert.Equal(hidden.AsSpan(6 * h, h).ToArray(), pooled[..h]);

        // "... cat" against "... dog": the pooled vectors differ clearly.
        var different = EncodeText(text, s, cat, dog)["pooler_output"].Values;
        Assert.Equal(pooled[..h], different[..h]);
        Assert.True(OrtTensors.MaxAbsDifference(different[..h], different[h..]) > 0.05, "different prompts pool alike");

        // A longer prompt moves the end token and changes the pooled vector too.
        var longer = EncodeText(text, s, Prompt(s, 320, 736, 2368, 320, 1125, 539, 320, 2368), cat)["pooler_output"].Values;
        Assert.True(OrtTensors.MaxAbsDifference(longer[..h], longer[h..]) > 0.05, "prompts of different lengths pool alike");
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void UNet_DependsOnSampleTimestepAndConditioning(TimestepKind timestep, bool float16, bool idsInt64, bool external)
    {
        using var temp = new TempDirectory();
        var options = Options(timestep, float16, idsInt64, external);
        var folder = TinyStableDiffusion.Write(temp.Sub("model"), options);
        int s = options.SequenceLength, h = options.HiddenSize, c = options.LatentChannels, size = options.LatentSize;
        using var unet = Open(folder, "unet");
        var random = new Random(7);
        var sample = OrtTensors.Gaussian(random, Batch * c * size * size);
        var conditioning = Uniform(random, Batch * s * h);

        var baseline = RunUNet(unet, options, sample, 500, conditioning);
        Assert.Equal([Batch, c, size, size], baseline.Shape);
        AssertFinite(baseline.Values);
        Assert.All(baseline.Values, v => Assert.InRange(v, -1f, 1f));
        Assert.True(StandardDeviation(baseline.Values) > 0.1, "the UNet output is nearly constant");

        var otherConditioning = RunUNet(unet, options, sample, 500, Uniform(random, Batch * s * h));
        Assert.True(OrtTensors.MaxAbsDifference(baseline.Values, otherConditioning.Values) > 0.02, "conditioning has no effect");

        var otherTimestep = RunUNet(unet, options, sample, 50, conditioning);
        Assert.True(OrtTensors.MaxAbsDifference(baseline.Values, otherTimestep.Values) > 0.02, "timestep has no effect");

        var otherSample = RunUNet(unet, options, OrtTensors.Gaussian(random, sample.Length), 500, conditioning);
        Assert.True(OrtTensors.MaxAbsDifference(baseline.Values, otherSample.Values) > 0.02, "sample has no effect");

        var again = RunUNet(unet, options, sample, 500, conditioning);
        Assert.Equal(baseline.Values, again.Values);
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void VaeDecoder_GivesImagesEightTimesLargerInMinusOneToOne(TimestepKind timestep, bool float16, bool idsInt64, bool external)
    {
        using var temp = new TempDirectory();
        var options = Options(timestep, float16, idsInt64, external);
        var folder = TinyStableDiffusion.Write(temp.Sub("model"), options);
        int c = options.LatentChannels, size = options.LatentSize;
        using var vae = Open(folder, "vae_decoder");

        // The pipeline divides latents by the scaling factor 0.18215 before decoding.
        var latents = OrtTensors.Gaussian(new Random(3), Batch * c * size * size).Select(v => v / 0.18215f).ToArray();
        var image = OrtTensors.Run(vae, new Dictionary<string, OrtValue>
        {
            ["latent_sample"] = OrtTensors.Floats(vae, "latent_sample", latents, Batch, c, size, size),
        })["sample"];

        Assert.Equal([Batch, 3, 8 * size, 8 * size], image.Shape);
        AssertFinite(image.Values);
        Assert.All(image.Values, v => Assert.InRange(v, -1f, 1f));
        Assert.True(StandardDeviation(image.Values) > 0.1, "the decoded image is nearly constant");
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void Write_TwiceGivesIdenticalBytes(TimestepKind timestep, bool float16, bool idsInt64, bool external)
    {
        using var temp = new TempDirectory();
        var options = Options(timestep, float16, idsInt64, external);
        var first = TinyStableDiffusion.Write(temp.Sub("first"), options);
        var second = TinyStableDiffusion.Write(temp.Sub("second"), options);

        var files = RelativeFiles(first);
        Assert.Equal(files, RelativeFiles(second));
        foreach (var file in files)
        {
            Assert.True(
                File.ReadAllBytes(Path.Combine(first, file)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(second, file))),
                $"{file} differs between two writes");
        }
    }

    [Fact]
    public void Write_OtherSeedGivesOtherWeightsAndSameLayout()
    {
        using var temp = new TempDirectory();
        var first = TinyStableDiffusion.Write(temp.Sub("first"));
        var second = TinyStableDiffusion.Write(temp.Sub("second"), new TinyModelOptions { Seed = 2 });

        Assert.Equal(RelativeFiles(first), RelativeFiles(second));
        foreach (var model in new[] { "text_encoder", "unet", "vae_decoder" })
        {
            Assert.False(
                File.ReadAllBytes(Path.Combine(first, model, "model.onnx")).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(second, model, "model.onnx"))),
                $"{model} is the same with another seed");
        }
    }

    [Fact]
    public void Write_OverAnExternalDataExportLeavesNoStaleDataFile()
    {
        using var temp = new TempDirectory();
        var folder = TinyStableDiffusion.Write(temp.Sub("model"), new TinyModelOptions { UNetExternalData = true });
        Assert.True(File.Exists(Path.Combine(folder, "unet", "model.onnx_data")));

        TinyStableDiffusion.Write(folder);
        Assert.False(File.Exists(Path.Combine(folder, "unet", "model.onnx_data")));
        using var unet = Open(folder, "unet");
        Assert.Equal(3, unet.InputMetadata.Count);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void UNetExternalData_KeepsEveryWeightOutOfTheOnnxFile(bool float16)
    {
        using var temp = new TempDirectory();
        // CLIP ViT-L/14's width, so that the weights clearly outweigh the graph.
        var options = new TinyModelOptions { UNetExternalData = true, HiddenSize = 768, Float16 = float16 };
        var folder = TinyStableDiffusion.Write(temp.Sub("model"), options);
        var onnxPath = Path.Combine(folder, "unet", "model.onnx");
        var dataPath = Path.Combine(folder, "unet", "model.onnx_data");

        Assert.True(File.Exists(dataPath));
        var onnxLength = new FileInfo(onnxPath).Length;
        var dataLength = new FileInfo(dataPath).Length;
        Assert.True(onnxLength < 8 * 1024, $"unet/model.onnx is {onnxLength} bytes");
        Assert.True(dataLength > 4 * onnxLength, $"unet/model.onnx_data is only {dataLength} bytes");

        var model = OnnxModel.Parser.ParseFrom(File.ReadAllBytes(onnxPath));
        Assert.NotEmpty(model.Graph.Initializer);
        // The weights go out; the small int64 shape and axis tensors stay inline, which ONNX Runtime needs.
        var weights = model.Graph.Initializer.Where(t => t.DataType == (int)OnnxTensor.Types.DataType.Float).ToList();
        Assert.Equal(
            ["conditioning_projection", "conv_bias", "conv_weight", "timestep_bias", "timestep_scale"],
            weights.Select(t => t.Name).Order(StringComparer.Ordinal));
        Assert.All(
            model.Graph.Initializer.Except(weights),
            t => Assert.True(t.DataType == (int)OnnxTensor.Types.DataType.Int64 && t.RawData.Length <= 64, $"{t.Name} stays inline"));
        long end = 0;
        foreach (var tensor in weights)
        {
            Assert.Equal(OnnxTensor.Types.DataLocation.External, tensor.DataLocation);
            Assert.True(tensor.RawData.IsEmpty, $"{tensor.Name} keeps raw data");
            var entries = tensor.ExternalData.ToDictionary(e => e.Key, e => e.Value);
            Assert.Equal("model.onnx_data", entries["location"]);
            Assert.Equal(end, long.Parse(entries["offset"], System.Globalization.CultureInfo.InvariantCulture));
            end += long.Parse(entries["length"], System.Globalization.CultureInfo.InvariantCulture);
        }

        Assert.Equal(dataLength, end);

        // ONNX Runtime finds the data next to the model when the session opens it by path.
        using var unet = Open(folder, "unet");
        var c = options.LatentChannels;
        var random = new Random(5);
        var output = RunUNet(unet, options, OrtTensors.Gaussian(random, Batch * c * 8 * 8), 999, Uniform(random, Batch * 77 * 768));
        Assert.Equal([Batch, c, 8, 8], output.Shape);
        AssertFinite(output.Values);
    }

    [Fact]
    public void Write_OtherSizesShowInShapesAndConfigs()
    {
        using var temp = new TempDirectory();
        var options = new TinyModelOptions { HiddenSize = 48, LatentChannels = 3, LatentSize = 12, SequenceLength = 16 };
        var folder = TinyStableDiffusion.Write(temp.Sub("model"), options);

        using (var text = Open(folder, "text_encoder"))
        {
            AssertTensor(text.InputMetadata["input_ids"], TensorElementType.Int32, -1, 16);
            AssertTensor(text.OutputMetadata["last_hidden_state"], TensorElementType.Float, -1, 16, 48);
            var pooled = EncodeText(text, 16, Prompt(16, 320, 2368), Prompt(16, 320, 1929))["pooler_output"];
            Assert.Equal([Batch, 48], pooled.Shape);
        }

        using (var unet = Open(folder, "unet"))
        {
            AssertTensor(unet.InputMetadata["encoder_hidden_states"], TensorElementType.Float, -1, 16, 48);
            var random = new Random(1);
            var output = RunUNet(unet, options, OrtTensors.Gaussian(random, Batch * 3 * 12 * 12), 1, Uniform(random, Batch * 16 * 48));
            Assert.Equal([Batch, 3, 12, 12], output.Shape);
        }

        using (var vae = Open(folder, "vae_decoder"))
        {
            AssertTensor(vae.InputMetadata["latent_sample"], TensorElementType.Float, -1, 3, -1, -1);
        }

        Assert.Equal(12, ReadJson(folder, "unet/config.json")["sample_size"]!.GetValue<int>());
        Assert.Equal(3, ReadJson(folder, "unet/config.json")["in_channels"]!.GetValue<int>());
        Assert.Equal(96, ReadJson(folder, "vae_decoder/config.json")["sample_size"]!.GetValue<int>());
        Assert.Equal(48, ReadJson(folder, "text_encoder/config.json")["hidden_size"]!.GetValue<int>());
        Assert.Equal(16, ReadJson(folder, "tokenizer/tokenizer_config.json")["model_max_length"]!.GetValue<int>());
    }

    [Fact]
    public void JsonFiles_AreThoseOfAStableDiffusion15Export()
    {
        using var temp = new TempDirectory();
        var folder = TinyStableDiffusion.Write(temp.Sub("model"));

        var index = ReadJson(folder, "model_index.json");
        Assert.Equal("OnnxStableDiffusionPipeline", index["_class_name"]!.GetValue<string>());
        Assert.Equal(["diffusers", "PNDMScheduler"], Strings(index["scheduler"]!));
        Assert.Equal(["optimum", "ORTModelForFeatureExtraction"], Strings(index["text_encoder"]!));
        Assert.Equal(["transformers", "CLIPTokenizer"], Strings(index["tokenizer"]!));
        Assert.NotNull(index["unet"]);
        Assert.NotNull(index["vae_decoder"]);

        var scheduler = ReadJson(folder, "scheduler/scheduler_config.json");
        Assert.Equal("PNDMScheduler", scheduler["_class_name"]!.GetValue<string>());
        Assert.Equal("scaled_linear", scheduler["beta_schedule"]!.GetValue<string>());
        Assert.Equal(0.00085, scheduler["beta_start"]!.GetValue<double>());
        Assert.Equal(0.012, scheduler["beta_end"]!.GetValue<double>());
        Assert.Equal(1000, scheduler["num_train_timesteps"]!.GetValue<int>());
        Assert.False(scheduler["set_alpha_to_one"]!.GetValue<bool>());
        Assert.True(scheduler["skip_prk_steps"]!.GetValue<bool>());
        Assert.Equal(1, scheduler["steps_offset"]!.GetValue<int>());
        Assert.False(scheduler["clip_sample"]!.GetValue<bool>());
        Assert.Equal("epsilon", scheduler["prediction_type"]!.GetValue<string>());

        var tokenizer = ReadJson(folder, "tokenizer/tokenizer_config.json");
        Assert.Equal(77, tokenizer["model_max_length"]!.GetValue<int>());
        Assert.Equal("<|endoftext|>", tokenizer["pad_token"]!.GetValue<string>());
        Assert.Equal("CLIPTokenizer", tokenizer["tokenizer_class"]!.GetValue<string>());
        var special = ReadJson(folder, "tokenizer/special_tokens_map.json");
        Assert.Equal("<|endoftext|>", special["pad_token"]!.GetValue<string>());
        Assert.Equal("<|startoftext|>", special["bos_token"]!["content"]!.GetValue<string>());
        Assert.Equal("<|endoftext|>", special["eos_token"]!["content"]!.GetValue<string>());

        var euler = TinyStableDiffusion.Write(temp.Sub("euler"), new TinyModelOptions { SchedulerClass = "EulerDiscreteScheduler" });
        Assert.Equal("EulerDiscreteScheduler", ReadJson(euler, "scheduler/scheduler_config.json")["_class_name"]!.GetValue<string>());
        Assert.Equal(["diffusers", "EulerDiscreteScheduler"], Strings(ReadJson(euler, "model_index.json")["scheduler"]!));
    }

    [Fact]
    public void Write_RejectsNonsenseOptions()
    {
        using var temp = new TempDirectory();
        Assert.Throws<ArgumentOutOfRangeException>(() => TinyStableDiffusion.Write(temp.Sub("a"), new TinyModelOptions { HiddenSize = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => TinyStableDiffusion.Write(temp.Sub("b"), new TinyModelOptions { Timestep = (TimestepKind)42 }));
        Assert.Throws<ArgumentException>(() => TinyStableDiffusion.Write(temp.Sub("c"), new TinyModelOptions { SchedulerClass = " " }));
    }

    internal static InferenceSession Open(string folder, string model) => new(Path.Combine(folder, model, "model.onnx"));

    internal static string[] RelativeFiles(string folder) =>
        Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(folder, f).Replace(Path.DirectorySeparatorChar, '/'))
            .Order(StringComparer.Ordinal)
            .ToArray();

    private static JsonNode ReadJson(string folder, string relativePath) =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(folder, relativePath)))!;

    private static string[] Strings(JsonNode array) => array.AsArray().Select(n => n!.GetValue<string>()).ToArray();

    private static long[] Prompt(int length, params long[] words)
    {
        var ids = new long[length];
        Array.Fill(ids, EndToken);
        ids[0] = StartToken;
        words.CopyTo(ids, 1);
        return ids;
    }

    private static Dictionary<string, TensorResult> EncodeText(InferenceSession text, int length, long[] first, long[] second) =>
        OrtTensors.Run(text, new Dictionary<string, OrtValue>
        {
            ["input_ids"] = OrtTensors.Integers(text, "input_ids", [.. first, .. second], Batch, length),
        });

    private static TensorResult RunUNet(InferenceSession unet, TinyModelOptions options, float[] sample, int timestep, float[] conditioning)
    {
        var size = (long)Math.Sqrt(sample.Length / Batch / options.LatentChannels);
        var scalar = unet.InputMetadata["timestep"].Dimensions.Length == 0;
        var timesteps = scalar ? new float[] { timestep } : Enumerable.Repeat((float)timestep, Batch).ToArray();
        return OrtTensors.Run(unet, new Dictionary<string, OrtValue>
        {
            ["sample"] = OrtTensors.Floats(unet, "sample", sample, Batch, options.LatentChannels, size, size),
            ["timestep"] = OrtTensors.Floats(unet, "timestep", timesteps, scalar ? [] : [Batch]),
            ["encoder_hidden_states"] = OrtTensors.Floats(
                unet, "encoder_hidden_states", conditioning, Batch, conditioning.Length / Batch / options.HiddenSize, options.HiddenSize),
        })["out_sample"];
    }

    private static void AssertTensor(NodeMetadata metadata, TensorElementType type, params int[] dimensions)
    {
        Assert.True(metadata.IsTensor);
        Assert.Equal(type, metadata.ElementDataType);
        Assert.Equal(dimensions, metadata.Dimensions);
    }

    private static void AssertFinite(float[] values) => Assert.All(values, v => Assert.True(float.IsFinite(v)));

    private static float[] Uniform(Random random, int count)
    {
        var values = new float[count];
        for (var i = 0; i < count; i++)
        {
            values[i] = (float)(random.NextDouble() * 2 - 1);
        }

        return values;
    }

    private static double StandardDeviation(float[] values)
    {
        var mean = values.Average(v => (double)v);
        return Math.Sqrt(values.Average(v => (v - mean) * (v - mean)));
    }
}
