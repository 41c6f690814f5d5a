using System.Text.Json.Nodes;
using HierDiff.Core;
using HierDiff.Core.Noise;
using HierDiff.Core.Sampling;
using HierDiff.Core.Schedulers;
using HierDiff.Models.Onnx;
using HierDiff.Models.Tests.Fixtures;
using HierDiff.Models.Tokenization;
using HierDiff.TestModels;
using Microsoft.ML.OnnxRuntime;

namespace HierDiff.Models.Tests;

/// <summary>Kandinsky 2.2 exports in HierDiff's layout: loading, refusals, the prior's image embeddings and the
/// decoder's guidance as diffusers' KandinskyV22PriorPipeline and KandinskyV22Pipeline form them, checked against the
/// raw ONNX sessions.</summary>
public sealed class Kandinsky22ModelTests : IDisposable
{
    private const int Width = 16;
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private string Export(TinyKandinskyOptions? options = null, string name = "kandinsky") => TinyKandinsky22.Write(_temp.Sub(name), options);

    [Fact]
    public void AKandinskyExportLoadsAsItsFamilyWithTheLatentOfItsUNetAndTheDecodersScheduler()
    {
        ITextToImageModel model = TextToImageModels.Load(Export(), OnnxDevice.Cpu);
        var kandinsky = Assert.IsType<Kandinsky22Model>(model);
        Assert.Equal(new LatentShape(4, 8, 8), model.Latent);
        Assert.Equal(8, kandinsky.UNet.OutputChannels);
        Assert.Equal("DDPMScheduler", model.SchedulerConfig.ClassName);
        Assert.Equal(1.0, kandinsky.Movq.ScalingFactor);
        Assert.Equal(Width, kandinsky.Prior.EmbeddingDim);
        Assert.Equal(25, kandinsky.Prior.Scheduler.Timesteps.Count);
        Assert.Equal(PredictionType.Sample, kandinsky.Prior.Scheduler.Config.PredictionType);
        Assert.All(model.Decode([new float[model.Latent.Length]]), image => Assert.Equal((64, 64), (image.Width, image.Height)));
        kandinsky.Dispose();
    }

    /// <summary>KandinskyV22PriorPipeline written out against the raw sessions: text_embeds and last_hidden_state of
    /// the prompt and of "" (rows uncond first), the tokenizer's attention mask, 25 UnCLIP steps with guidance 4
    /// and the prompt's noise, then x clip_std + clip_mean.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ThePriorGivesEachPromptTheImageEmbeddingDiffusersComputes(bool float16)
    {
        string dir = Export(new TinyKandinskyOptions { Float16 = float16 });
        using var model = Kandinsky22Model.Load(dir, OnnxDevice.Cpu);
        const string prompt = "a red circle on a blue background";
        PromptEncoding encoded = model.Encode([prompt])[0];

        ClipTokenizer tokenizer = ClipTokenizer.Load(Path.Combine(dir, "prior", "tokenizer"));
        (float[] condEmbeds, float[] condStates, long[] condMask) = RunTextEncoder(dir, tokenizer, prompt);
        (float[] uncondEmbeds, float[] uncondStates, long[] uncondMask) = RunTextEncoder(dir, tokenizer, "");
        JsonObject stats = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "prior", "prior", "clip_stats.json")))!.AsObject();
        float[] mean = stats["clip_mean"]!.AsArray().Select(v => v!.GetValue<float>()).ToArray();
        float[] std = stats["clip_std"]!.AsArray().Select(v => v!.GetValue<float>()).ToArray();

        var scheduler = new UnClipScheduler(UnClipConfig.Load(Path.Combine(dir, "prior", "scheduler", "scheduler_config.json")), 25);
        using var prior = new InferenceSession(Path.Combine(dir, "prior", "prior", "model.onnx"));
        NoiseStream noise = KandinskyPrior.NoiseFor(prompt);
        var latent = new float[Width];
        noise.Fill(latent, NoiseStream.InitialLatentDraw);
        for (int i = 0; i < scheduler.Timesteps.Count; i++)
        {
            int t = scheduler.Timesteps[i];
            // torch.cat([latents] * 2) against torch.cat([negative, prompt]), in one call as diffusers makes it.
            float[] both = RunPrior(prior, [.. latent, .. latent], t, [.. uncondEmbeds, .. condEmbeds], [.. uncondStates, .. condStates], [.. uncondMask, .. condMask], rows: 2);
            float[] guided = both[..Width].Select((u, j) => u + (4f * (both[Width + j] - u))).ToArray();
            scheduler.Step(i, guided, latent, noise);
        }

        float[] expected = latent.Select((x, j) => (x * std[j]) + mean[j]).ToArray();
        for (int j = 0; j < Width; j++)
        {
            Assert.Equal(expected[j], encoded.ClusterEmbedding[j], 1e-5f);
        }

        Assert.Equal(encoded.ClusterEmbedding, encoded.Conditioning);
        Assert.Equal(tokenizer.EncodeWindow(prompt).TokenCount, encoded.TokenCount);
    }

    [Fact]
    public void APromptsImageEmbeddingDependsOnItsTextAloneNotOnItsBatchOrPosition()
    {
        using var model = Kandinsky22Model.Load(Export(), OnnxDevice.Cpu);
        string[] prompts = [.. Enumerable.Range(0, 11).Select(i => $"a shape number {i}")];
        IReadOnlyList<PromptEncoding> all = model.Encode(prompts);
        IReadOnlyList<PromptEncoding> reversed = model.Encode([.. prompts.Reverse()]);
        for (int i = 0; i < prompts.Length; i++)
        {
            Assert.Equal(all[i].ClusterEmbedding, reversed[prompts.Length - 1 - i].ClusterEmbedding);
        }

        Assert.Equal(all[9].ClusterEmbedding, model.Encode([prompts[9]])[0].ClusterEmbedding);
        Assert.Equal(prompts.Length, all.Select(e => string.Join(',', e.ClusterEmbedding)).Distinct().Count());
    }

    [Fact]
    public void TheNegativeIsTheStoredZeroImageEmbeddingOrANegativePromptsImageEmbedding()
    {
        string dir = Export();
        using var model = Kandinsky22Model.Load(dir, OnnxDevice.Cpu);
        float[] stored = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "prior", "negative_image_embeds.json")))!["negative_image_embeds"]!
            .AsArray().Select(v => v!.GetValue<float>()).ToArray();
        Assert.Equal(stored, model.NegativeConditioning(""));
        Assert.Equal(model.Encode(["blurry"])[0].Conditioning, model.NegativeConditioning("blurry"));
    }

    /// <summary>KandinskyV22Pipeline's step: image_embeds = [negative, cond], guidance on the first C channels of
    /// out_sample, the variance channels dropped (the scheduler's variance_type is fixed_small).</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TheGuidedDenoiserGuidesThePredictedNoiseAndDropsTheVariance(bool float16)
    {
        string dir = Export(new TinyKandinskyOptions { Float16 = float16 });
        using var model = Kandinsky22Model.Load(dir, OnnxDevice.Cpu);
        float[] latent = Enumerable.Range(0, model.Latent.Length).Select(i => (float)Math.Sin(i * 0.37)).ToArray();
        float[] embeds = Enumerable.Range(0, Width).Select(i => (float)Math.Cos(i * 0.7)).ToArray();
        float[] negative = model.NegativeConditioning("");
        const double guidance = 4, timestep = 501;
        var output = new float[latent.Length];
        model.CreateDenoiser(negative, guidance).Predict([new DenoiserInput(latent, timestep, embeds)], [output]);

        using var unet = new InferenceSession(Path.Combine(dir, "unet", "model.onnx"));
        float[] cond = RunUNet(unet, latent, timestep, embeds);
        float[] uncond = RunUNet(unet, latent, timestep, negative);
        Assert.Equal(2 * latent.Length, cond.Length);
        for (int j = 0; j < output.Length; j++)
        {
            Assert.Equal(uncond[j] + ((float)guidance * (cond[j] - uncond[j])), output[j], 1e-5f);
        }

        var unguided = new float[latent.Length];
        model.CreateDenoiser(negative, 1).Predict([new DenoiserInput(latent, timestep, embeds)], [unguided]);
        Assert.Equal(cond[..latent.Length], unguided);
    }

    [Fact]
    public void AFolderWithoutThePriorIsRefusedNamingIt()
    {
        string dir = Export();
        BrokenModels.DeleteFile(dir, "prior/prior/model.onnx");
        var e = Assert.Throws<HierDiffInputException>(() => TextToImageModels.Load(dir, OnnxDevice.Cpu));
        Assert.Contains("not a complete Kandinsky 2.2 ONNX export: missing prior/prior/model.onnx", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void AUNetWhoseImageEmbedsHaveAnotherWidthIsRefused()
    {
        var e = Assert.Throws<HierDiffInputException>(() => TextToImageModels.Load(Export(new TinyKandinskyOptions { UNetEmbeddingDim = 24 }), OnnxDevice.Cpu));
        Assert.Contains("unet/model.onnx: image_embeds is 24 wide; expected 16 (the width of the prior's image embeddings, clip_mean's)", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void AUNetWithoutImageEmbedsIsRefusedNamingTheFileAndTheInputs()
    {
        string dir = Export();
        BrokenModels.RenameInput(dir, "unet", "image_embeds", "encoder_hidden_states");
        var e = Assert.Throws<HierDiffInputException>(() => TextToImageModels.Load(dir, OnnxDevice.Cpu));
        Assert.Contains("unet/model.onnx: expected inputs sample", e.Message);
        Assert.Contains("image_embeds (float32|float16, rank 2); found inputs", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void ANegativeEmbeddingOfAnotherWidthIsRefused()
    {
        string dir = Export();
        File.WriteAllText(Path.Combine(dir, "prior", "negative_image_embeds.json"), """{"negative_image_embeds": [0.5, 1.5]}""");
        var e = Assert.Throws<HierDiffInputException>(() => TextToImageModels.Load(dir, OnnxDevice.Cpu));
        Assert.Contains("negative_image_embeds.json: negative_image_embeds has 2 values; expected 16", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void APriorSchedulerThatIsNotUnClipIsRefused()
    {
        string dir = Export();
        File.WriteAllText(Path.Combine(dir, "prior", "scheduler", "scheduler_config.json"), """{"_class_name": "DDPMScheduler"}""");
        var e = Assert.Throws<HierDiffInputException>(() => TextToImageModels.Load(dir, OnnxDevice.Cpu));
        Assert.Contains("scheduler_config.json: _class_name is DDPMScheduler; expected UnCLIPScheduler", e.Message);
    }

    /// <summary>A wiring mistake (an input ignored, two swapped) must change what the fixture computes.</summary>
    [Fact]
    public void EveryInputOfTheFixturePriorAndUNetChangesTheirOutput()
    {
        string dir = Export();
        using var prior = new InferenceSession(Path.Combine(dir, "prior", "prior", "model.onnx"));
        float[] x = Enumerable.Range(0, Width).Select(i => (float)Math.Sin(i)).ToArray();
        float[] proj = Enumerable.Range(0, Width).Select(i => (float)Math.Cos(i)).ToArray();
        float[] states = Enumerable.Range(0, 77 * Width).Select(i => (float)Math.Sin(i * 0.01)).ToArray();
        long[] mask = [.. Enumerable.Range(0, 77).Select(i => i < 5 ? 1L : 0L)];
        float[] baseline = RunPrior(prior, x, 500, proj, states, mask);
        Assert.NotEqual(baseline, RunPrior(prior, [.. x.Select(v => v + 0.1f)], 500, proj, states, mask));
        Assert.NotEqual(baseline, RunPrior(prior, x, 501, proj, states, mask));
        Assert.NotEqual(baseline, RunPrior(prior, x, 500, [.. proj.Select(v => v + 0.1f)], states, mask));
        Assert.NotEqual(baseline, RunPrior(prior, x, 500, proj, [.. states.Select(v => v + 0.1f)], mask));
        Assert.NotEqual(baseline, RunPrior(prior, x, 500, proj, states, [.. mask.Select((m, i) => i < 9 ? 1L : 0L)]));

        using var unet = new InferenceSession(Path.Combine(dir, "unet", "model.onnx"));
        float[] latent = Enumerable.Range(0, 4 * 8 * 8).Select(i => (float)Math.Cos(i * 0.1)).ToArray();
        float[] unetBaseline = RunUNet(unet, latent, 500, x);
        Assert.NotEqual(unetBaseline, RunUNet(unet, [.. latent.Select(v => v + 0.1f)], 500, x));
        Assert.NotEqual(unetBaseline, RunUNet(unet, latent, 501, x));
        Assert.NotEqual(unetBaseline, RunUNet(unet, latent, 500, [.. x.Select(v => v + 0.1f)]));
        Assert.NotEqual(unetBaseline[(4 * 64)..], RunUNet(unet, latent, 500, [.. x.Select(v => v + 0.1f)])[(4 * 64)..]);
    }

    private static (float[] TextEmbeds, float[] States, long[] Mask) RunTextEncoder(string dir, ClipTokenizer tokenizer, string text)
    {
        TokenWindow window = tokenizer.EncodeWindow(text);
        long[] ids = [.. window.Ids.Select(i => (long)i)];
        using var session = new InferenceSession(Path.Combine(dir, "prior", "text_encoder", "model.onnx"));
        Dictionary<string, TensorResult> outputs = OrtTensors.Run(session, new Dictionary<string, OrtValue> { ["input_ids"] = OrtTensors.Integers(session, "input_ids", ids, 1, ids.Length) });
        long[] mask = [.. Enumerable.Range(0, ids.Length).Select(j => j < window.TokenCount ? 1L : 0L)];
        return (outputs["text_embeds"].Values, outputs["last_hidden_state"].Values, mask);
    }

    private static float[] RunPrior(InferenceSession prior, float[] x, int timestep, float[] proj, float[] states, long[] mask, int rows = 1) =>
        OrtTensors.Run(prior, new Dictionary<string, OrtValue>
        {
            ["hidden_states"] = OrtTensors.Floats(prior, "hidden_states", x, rows, x.Length / rows),
            ["timestep"] = OrtTensors.Integers(prior, "timestep", [.. Enumerable.Repeat((long)timestep, rows)], rows),
            ["proj_embedding"] = OrtTensors.Floats(prior, "proj_embedding", proj, rows, proj.Length / rows),
            ["encoder_hidden_states"] = OrtTensors.Floats(prior, "encoder_hidden_states", states, rows, 77, states.Length / rows / 77),
            ["attention_mask"] = OrtValue.CreateTensorValueFromMemory(mask.Select(m => m != 0).ToArray(), [rows, mask.Length / rows]),
        })["predicted_image_embedding"].Values;

    private static float[] RunUNet(InferenceSession unet, float[] latent, double timestep, float[] embeds) =>
        OrtTensors.Run(unet, new Dictionary<string, OrtValue>
        {
            ["sample"] = OrtTensors.Floats(unet, "sample", latent, 1, 4, 8, 8),
            ["timestep"] = OrtTensors.Integers(unet, "timestep", [(long)timestep], 1),
            ["image_embeds"] = OrtTensors.Floats(unet, "image_embeds", embeds, 1, embeds.Length),
        })["out_sample"].Values;
}
