using System.Text;
using System.Text.Json;
using HierDiff.Models.Tests.Images;

namespace HierDiff.Pipeline.Tests;

/// <summary>Stable Diffusion generation through the pipeline, on tiny random models in the real export layout,
/// through real ONNX Runtime sessions: every export variant, batching, guidance and sharing.</summary>
public sealed class StableDiffusionGenerationTests : IDisposable
{
    private static readonly string[] Prompts = ShapePrompts.SixInThreeGroups;

    private readonly TempDirectory _temp = new("hierdiff-sd-");

    public void Dispose() => _temp.Dispose();

    private StableDiffusionModel Model(TinyModelOptions? options = null) =>
        StableDiffusionModel.Load(TinyStableDiffusion.Write(_temp.Sub("model-" + Guid.NewGuid().ToString("N")), options), OnnxDevice.Cpu);

    /// <summary>One run through the pipeline: its images (decoded) and its manifest.</summary>
    private async Task<(PngReader.Png[] Images, JsonElement Manifest)> Generate(StableDiffusionModel model, string[] prompts, GenerationOptions options)
    {
        var store = new LocalRunStore(_temp.Sub("store-" + Guid.NewGuid().ToString("N")));
        await store.WriteAsync(Containers.Prompts, "p.txt", Encoding.UTF8.GetBytes(string.Join('\n', prompts)));
        RunOutcome outcome = await new LocalPipeline(store, () => model).RunAsync(new RunInput("run", "p.txt", options));
        Assert.True(outcome.Succeeded, outcome.Error);
        var images = new PngReader.Png[prompts.Length];
        for (int i = 0; i < prompts.Length; i++)
        {
            images[i] = PngReader.Read((await store.ReadAsync(Containers.Images, RunBlobs.Image("run", i, prompts.Length)))!);
        }

        using JsonDocument manifest = JsonDocument.Parse((await store.ReadAsync(Containers.Runs, RunBlobs.Manifest("run")))!);
        return (images, manifest.RootElement.Clone());
    }

    [Fact]
    public async Task SharingStepsSavesCallsAndChangesImagesOnlyWhereClustersShare()
    {
        using StableDiffusionModel model = Model();
        var options = new GenerationOptions { Steps = 10 };
        var shared = await Generate(model, Prompts, options with { TargetSavings = 0.5 });
        var standard = await Generate(model, Prompts, options with { Mode = GenerationMode.Standard });

        Assert.True(shared.Manifest.GetProperty("savings").GetDouble() >= 0.5);
        // The tiny export's own scheduler, PNDM with skip_prk_steps: 10 steps are 11 denoiser calls.
        Assert.Equal(6 * 11, shared.Manifest.GetProperty("standard_denoiser_calls").GetInt64());
        Assert.Contains(Enumerable.Range(0, Prompts.Length), i => !shared.Images[i].Rgb.SequenceEqual(standard.Images[i].Rgb));
        Assert.All(shared.Images, image => Assert.Equal((64, 64), (image.Width, image.Height)));
    }

    [Fact]
    public async Task MaxBatchChangesNoPixelByMoreThanOneLevel()
    {
        using StableDiffusionModel model = Model();
        var options = new GenerationOptions { Steps = 8, TargetSavings = 0.4 };
        var one = await Generate(model, Prompts, options with { MaxBatch = 1 });
        var many = await Generate(model, Prompts, options with { MaxBatch = 32 });
        for (int i = 0; i < Prompts.Length; i++)
        {
            Assert.True(one.Images[i].Rgb.Zip(many.Images[i].Rgb).All(p => Math.Abs(p.First - p.Second) <= 1), $"prompt {i} differs by more than 1/255");
        }
    }

    [Theory]
    [InlineData(TimestepKind.Int64Batch, 8)]
    [InlineData(TimestepKind.Float32Batch, 8)]
    [InlineData(TimestepKind.Float32Scalar, 10)]
    public async Task CallsFillAcrossStepsOnlyWhereTheExportTakesATimestepPerItem(TimestepKind timestep, int expectedCalls)
    {
        // 6 prompts x 5 denoiser calls (PNDM, 4 steps) in calls of at most 4: filled across steps, 7 calls of 4 and
        // one of 2; with one timestep per call (a scalar timestep), each step's 6 items as 4 + 2.
        using StableDiffusionModel model = Model(new TinyModelOptions { Timestep = timestep });
        var result = await Generate(model, Prompts, new GenerationOptions { Steps = 4, Mode = GenerationMode.Standard, MaxBatch = 4 });

        JsonElement calls = result.Manifest.GetProperty("model_calls");
        Dictionary<int, long> bySize = calls.GetProperty("calls_by_batch_size").EnumerateObject().ToDictionary(p => int.Parse(p.Name), p => p.Value.GetInt64());
        Assert.Equal(expectedCalls, calls.GetProperty("calls").GetInt64());
        Assert.Equal(expectedCalls == 8 ? new Dictionary<int, long> { [2] = 1, [4] = 7 } : new Dictionary<int, long> { [2] = 5, [4] = 5 }, bySize);
        Assert.Equal(result.Manifest.GetProperty("denoiser_calls").GetInt64(), bySize.Sum(p => p.Key * p.Value));
        Assert.Equal(30.0 / expectedCalls / 4, calls.GetProperty("mean_fill").GetDouble(), 12);
    }

    [Fact]
    public async Task FillingCallsAcrossStepsChangesNoPixelByMoreThanOneLevel()
    {
        // The same plan, step by step (a scalar-timestep export of the same weights) and filled across steps.
        using StableDiffusionModel perItem = Model(new TinyModelOptions { Timestep = TimestepKind.Float32Batch });
        using StableDiffusionModel perCall = Model(new TinyModelOptions { Timestep = TimestepKind.Float32Scalar });
        var options = new GenerationOptions { Steps = 8, TargetSavings = 0.4, MaxBatch = 3 };
        var mixed = await Generate(perItem, Prompts, options);
        var byStep = await Generate(perCall, Prompts, options);
        Assert.True(mixed.Manifest.GetProperty("model_calls").GetProperty("calls").GetInt64() < byStep.Manifest.GetProperty("model_calls").GetProperty("calls").GetInt64());
        for (int i = 0; i < Prompts.Length; i++)
        {
            Assert.True(mixed.Images[i].Rgb.Zip(byStep.Images[i].Rgb).All(p => Math.Abs(p.First - p.Second) <= 1), $"prompt {i} differs by more than 1/255");
        }
    }

    [Theory]
    [InlineData(TimestepKind.Int64Batch, false, false, false)]
    [InlineData(TimestepKind.Float32Batch, false, true, false)]
    [InlineData(TimestepKind.Float32Scalar, false, false, true)]
    [InlineData(TimestepKind.Float32Batch, true, false, false)]
    [InlineData(TimestepKind.Float32Scalar, true, true, true)]
    public async Task EveryExportVariantGenerates(TimestepKind timestep, bool fp16, bool int64Ids, bool externalData)
    {
        using StableDiffusionModel model = Model(new TinyModelOptions { Timestep = timestep, Float16 = fp16, InputIdsInt64 = int64Ids, UNetExternalData = externalData });
        var result = await Generate(model, Prompts[..3], new GenerationOptions { Steps = 4, Tau = 1000 });
        // PNDM: 4 steps are 5 denoiser calls; all but the last shared by the 3 prompts.
        Assert.Equal(5 - 1 + 3, result.Manifest.GetProperty("denoiser_calls").GetInt64());
        Assert.All(result.Images, image => Assert.Equal(64 * 64 * 3, image.Rgb.Length));
    }

    [Fact]
    public async Task GuidanceAndTheNegativePromptChangeTheImage()
    {
        using StableDiffusionModel model = Model();
        var options = new GenerationOptions { Steps = 6, Mode = GenerationMode.Standard };
        byte[] plain = (await Generate(model, Prompts[..1], options)).Images[0].Rgb;
        Assert.NotEqual(plain, (await Generate(model, Prompts[..1], options with { Guidance = 1 })).Images[0].Rgb);
        Assert.NotEqual(plain, (await Generate(model, Prompts[..1], options with { NegativePrompt = "blurry" })).Images[0].Rgb);
        Assert.Equal(plain, (await Generate(model, Prompts[..1], options)).Images[0].Rgb);
    }
}
