using System.Text.Json.Nodes;
using HierDiff.Core;
using HierDiff.Core.Sampling;
using HierDiff.Models.Onnx;
using HierDiff.Models.Tests.Fixtures;
using HierDiff.Models.Tokenization;
using HierDiff.TestModels;
using Microsoft.ML.OnnxRuntime;

namespace HierDiff.Models.Tests;

/// <summary>SDXL exports in optimum's layout: loading, refusals, and conditioning as diffusers'
/// StableDiffusionXLPipeline forms it, checked against the raw ONNX sessions.</summary>
public sealed class StableDiffusionXLModelTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private string Export(TinyXlOptions? options = null, string name = "sdxl") => TinyStableDiffusionXL.Write(_temp.Sub(name), options);

    [Fact]
    public void AnSdxlExportLoadsAsItsFamilyWithTheSizeAndSchedulerOfItsConfigs()
    {
        ITextToImageModel model = TextToImageModels.Load(Export(), OnnxDevice.Cpu);
        var sdxl = Assert.IsType<StableDiffusionXLModel>(model);
        Assert.Equal(new LatentShape(4, 8, 8), model.Latent);
        Assert.Equal("EulerDiscreteScheduler", model.SchedulerConfig.ClassName);
        Assert.Equal(TinyStableDiffusionXL.ScalingFactor, sdxl.Vae.ScalingFactor);
        Assert.Equal((77 * (12 + 20)) + 16, sdxl.TextWidth);
        Assert.All(model.Decode([new float[model.Latent.Length]]), image => Assert.Equal((64, 64), (image.Width, image.Height)));
        sdxl.Dispose();
    }

    [Fact]
    public void TheSecondTokenizerPadsWithTheExclamationMark()
    {
        string dir = Export();
        TokenWindow first = ClipTokenizer.Load(Path.Combine(dir, "tokenizer")).EncodeWindow("a red circle");
        TokenWindow second = ClipTokenizer.Load(Path.Combine(dir, "tokenizer_2")).EncodeWindow("a red circle");
        Assert.Equal(49407, first.Ids[^1]);
        Assert.Equal(0, second.Ids[^1]);
        Assert.Equal(first.Ids[..5], second.Ids[..5]);
    }

    /// <summary>What diffusers' pipeline does, written out against the raw sessions: prompt_embeds = concat of
    /// both encoders' hidden_states[-2] on the last axis, pooled = text_encoder_2's text_embeds, the negative all zeros
    /// (force_zeros_for_empty_prompt), time_ids = (h, w, 0, 0, h, w), noise = uncond + g (cond - uncond).</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TheGuidedDenoiserConditionsTheUNetAsDiffusersDoes(bool float16)
    {
        string dir = Export(new TinyXlOptions { Float16 = float16 });
        using var model = StableDiffusionXLModel.Load(dir, OnnxDevice.Cpu);
        const string prompt = "a red circle on a blue background";
        const double guidance = 5;
        float[] latent = Enumerable.Range(0, model.Latent.Length).Select(i => (float)Math.Sin(i * 0.37)).ToArray();
        const double timestep = 451;

        PromptEncoding encoded = model.Encode([prompt])[0];
        IModelDenoiser denoiser = model.CreateDenoiser(model.NegativeConditioning(""), guidance);
        var output = new float[latent.Length];
        denoiser.Predict([new DenoiserInput(latent, timestep, encoded.Conditioning)], [output]);

        long[] ids1 = ClipTokenizer.Load(Path.Combine(dir, "tokenizer")).EncodeWindow(prompt).Ids.Select(i => (long)i).ToArray();
        long[] ids2 = ClipTokenizer.Load(Path.Combine(dir, "tokenizer_2")).EncodeWindow(prompt).Ids.Select(i => (long)i).ToArray();
        TensorResult hidden1 = RunEncoder(Path.Combine(dir, "text_encoder", "model.onnx"), ids1)["hidden_states.1"];
        Dictionary<string, TensorResult> second = RunEncoder(Path.Combine(dir, "text_encoder_2", "model.onnx"), ids2);
        float[] promptEmbeds = ConcatLastAxis(hidden1.Values, 12, second["hidden_states.1"].Values, 20);
        float[] pooled = second["text_embeds"].Values;
        Assert.Equal(pooled, encoded.ClusterEmbedding);

        using var unet = new InferenceSession(Path.Combine(dir, "unet", "model.onnx"));
        float[] cond = RunUNet(unet, latent, timestep, promptEmbeds, pooled);
        float[] uncond = RunUNet(unet, latent, timestep, new float[promptEmbeds.Length], new float[pooled.Length]);
        for (int j = 0; j < output.Length; j++)
        {
            Assert.Equal(uncond[j] + ((float)guidance * (cond[j] - uncond[j])), output[j], 1e-5f);
        }
    }

    [Fact]
    public void WithoutForceZerosAnEmptyNegativePromptIsEncoded()
    {
        using var zeros = StableDiffusionXLModel.Load(Export(), OnnxDevice.Cpu);
        using var encoded = StableDiffusionXLModel.Load(Export(new TinyXlOptions { ForceZerosForEmptyPrompt = false }, "encoded"), OnnxDevice.Cpu);
        Assert.All(zeros.NegativeConditioning(""), v => Assert.Equal(0f, v));
        Assert.Contains(encoded.NegativeConditioning(""), v => v != 0);
        Assert.Equal(encoded.Encode([""])[0].Conditioning, encoded.NegativeConditioning(""));
        Assert.Contains(zeros.NegativeConditioning("blurry"), v => v != 0);
    }

    [Fact]
    public void AFolderWithoutTheSecondTextEncoderIsRefusedNamingIt()
    {
        string dir = Export();
        BrokenModels.DeleteFile(dir, "text_encoder_2/model.onnx");
        var e = Assert.Throws<HierDiffInputException>(() => TextToImageModels.Load(dir, OnnxDevice.Cpu));
        Assert.Contains("not a complete Stable Diffusion XL ONNX export: missing text_encoder_2/model.onnx", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void AUNetWithoutTimeIdsIsRefusedNamingTheFileAndTheInputs()
    {
        var e = Assert.Throws<HierDiffInputException>(() => TextToImageModels.Load(Export(new TinyXlOptions { OmitTimeIds = true }), OnnxDevice.Cpu));
        Assert.Contains("unet/model.onnx: expected inputs sample", e.Message);
        Assert.Contains("time_ids (float32|float16, rank 2); found inputs", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void HiddenSizesThatDoNotMatchTheUNetAreRefused()
    {
        var e = Assert.Throws<HierDiffInputException>(() => TextToImageModels.Load(Export(new TinyXlOptions { UNetHiddenSize = 24 }), OnnxDevice.Cpu));
        Assert.Contains("unet/model.onnx: encoder_hidden_states is 24 wide; expected 32 (the width of text_encoder's and text_encoder_2's hidden states together)", e.Message);
    }

    [Fact]
    public void TextEncodersWithoutHiddenStatesAreRefused()
    {
        var e = Assert.Throws<HierDiffInputException>(() => TextToImageModels.Load(Export(new TinyXlOptions { OmitHiddenStates = true }), OnnxDevice.Cpu));
        Assert.Contains("text_encoder/model.onnx: expected outputs hidden_states.0 … hidden_states.L", e.Message);
    }

    [Theory]
    [InlineData("StableDiffusionXLImg2ImgPipeline")]
    [InlineData("KandinskyV22Pipeline")]
    public void AnUnknownPipelineClassIsRefusedNamingEverySupportedOne(string className)
    {
        string dir = Export();
        File.WriteAllText(Path.Combine(dir, "model_index.json"), new JsonObject { ["_class_name"] = className }.ToJsonString());
        var e = Assert.Throws<HierDiffInputException>(() => TextToImageModels.Load(dir, OnnxDevice.Cpu));
        Assert.Contains($"model_index.json: the export is a {className}; HierDiff runs Stable Diffusion 1.x/2.x (", e.Message);
        Assert.Contains("Stable Diffusion XL (StableDiffusionXLPipeline, ORTStableDiffusionXLPipeline)", e.Message);
    }

    [Fact]
    public void TheRefinerIsRefused()
    {
        string dir = Export();
        string index = Path.Combine(dir, "model_index.json");
        JsonObject json = JsonNode.Parse(File.ReadAllText(index))!.AsObject();
        json["requires_aesthetics_score"] = true;
        File.WriteAllText(index, json.ToJsonString());
        var e = Assert.Throws<HierDiffInputException>(() => TextToImageModels.Load(dir, OnnxDevice.Cpu));
        Assert.Contains("requires_aesthetics_score is true", e.Message);
    }

    /// <summary>A wiring mistake (an input ignored, two swapped) must change what the fixture computes.</summary>
    [Fact]
    public void EveryInputOfTheFixtureUNetChangesItsOutput()
    {
        string dir = Export();
        using var unet = new InferenceSession(Path.Combine(dir, "unet", "model.onnx"));
        float[] latent = Enumerable.Range(0, 4 * 8 * 8).Select(i => (float)Math.Cos(i * 0.1)).ToArray();
        float[] hidden = Enumerable.Range(0, 77 * 32).Select(i => (float)Math.Sin(i * 0.01)).ToArray();
        float[] pooled = Enumerable.Range(0, 16).Select(i => (float)Math.Cos(i * 0.5)).ToArray();
        float[] baseline = RunUNet(unet, latent, 500, hidden, pooled);
        Assert.NotEqual(baseline, RunUNet(unet, latent.Select(v => v + 0.1f).ToArray(), 500, hidden, pooled));
        Assert.NotEqual(baseline, RunUNet(unet, latent, 501, hidden, pooled));
        Assert.NotEqual(baseline, RunUNet(unet, latent, 500, hidden.Select(v => v + 0.1f).ToArray(), pooled));
        Assert.NotEqual(baseline, RunUNet(unet, latent, 500, hidden, pooled.Select(v => v + 0.1f).ToArray()));
        Assert.NotEqual(baseline, RunUNet(unet, latent, 500, hidden, pooled, timeIds: [1024, 1024, 0, 0, 1024, 1024]));
    }

    [Fact]
    public void EveryTextEncoderOutputDependsOnTheIds()
    {
        string dir = Export();
        long[] ids = ClipTokenizer.Load(Path.Combine(dir, "tokenizer")).EncodeWindow("a red circle").Ids.Select(i => (long)i).ToArray();
        long[] other = ClipTokenizer.Load(Path.Combine(dir, "tokenizer")).EncodeWindow("a blue square").Ids.Select(i => (long)i).ToArray();
        foreach (string encoder in new[] { "text_encoder", "text_encoder_2" })
        {
            Dictionary<string, TensorResult> a = RunEncoder(Path.Combine(dir, encoder, "model.onnx"), ids);
            Dictionary<string, TensorResult> b = RunEncoder(Path.Combine(dir, encoder, "model.onnx"), other);
            Assert.Equal(5, a.Count); // last_hidden_state, the pooled vector, hidden_states.0 to .2
            Assert.All(a.Keys, name => Assert.NotEqual(a[name].Values, b[name].Values));
        }
    }

    private static Dictionary<string, TensorResult> RunEncoder(string path, long[] ids)
    {
        using var session = new InferenceSession(path);
        return OrtTensors.Run(session, new Dictionary<string, OrtValue> { ["input_ids"] = OrtTensors.Integers(session, "input_ids", ids, 1, ids.Length) });
    }

    private static float[] RunUNet(InferenceSession unet, float[] latent, double timestep, float[] hidden, float[] pooled, float[]? timeIds = null) =>
        OrtTensors.Run(unet, new Dictionary<string, OrtValue>
        {
            ["sample"] = OrtTensors.Floats(unet, "sample", latent, 1, 4, 8, 8),
            ["timestep"] = OrtTensors.Floats(unet, "timestep", [(float)timestep]),
            ["encoder_hidden_states"] = OrtTensors.Floats(unet, "encoder_hidden_states", hidden, 1, 77, hidden.Length / 77),
            ["text_embeds"] = OrtTensors.Floats(unet, "text_embeds", pooled, 1, pooled.Length),
            ["time_ids"] = OrtTensors.Floats(unet, "time_ids", timeIds ?? [64, 64, 0, 0, 64, 64], 1, 6),
        })["out_sample"].Values;

    private static float[] ConcatLastAxis(float[] a, int widthA, float[] b, int widthB)
    {
        int rows = a.Length / widthA;
        var joined = new float[rows * (widthA + widthB)];
        for (int r = 0; r < rows; r++)
        {
            a.AsSpan(r * widthA, widthA).CopyTo(joined.AsSpan(r * (widthA + widthB)));
            b.AsSpan(r * widthB, widthB).CopyTo(joined.AsSpan((r * (widthA + widthB)) + widthA));
        }

        return joined;
    }
}
