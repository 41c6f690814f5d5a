using HierDiff.Core;
using HierDiff.Models.Images;
using HierDiff.Models.Onnx;
using HierDiff.Models.Pipelines;
using HierDiff.TestModels;

namespace HierDiff.Models.Tests.Pipelines;

/// <summary>Generation on tiny random models in the real export layout, through real ONNX Runtime sessions.</summary>
public sealed class StableDiffusionPipelineTests : IDisposable
{
    private static readonly string[] Prompts =
    [
        "a red circle on a blue background",
        "a red circle on a blue background, striped",
        "a red circle on a blue background, dotted",
        "a green square on a white background",
        "a green square on a white background, checkered",
        "a yellow triangle on a black background",
    ];

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private StableDiffusionModel Model(TinyModelOptions? options = null, string name = "tiny") =>
        StableDiffusionModel.Load(TinyStableDiffusion.Write(_temp.Sub(name), options), OnnxDevice.Cpu);

    [Fact]
    public void TauZeroMakesTheSamePixelsAsStandardGeneration()
    {
        using StableDiffusionModel model = Model();
        var pipeline = new StableDiffusionPipeline(model);
        var options = new GenerationOptions { Steps = 8, Seed = 7 };
        GenerationResult standard = pipeline.Generate(Prompts, options with { Mode = GenerationMode.Standard });
        GenerationResult tauZero = pipeline.Generate(Prompts, options with { Tau = 0 });

        Assert.Equal(8L * Prompts.Length, tauZero.DenoiserCalls);
        for (int i = 0; i < Prompts.Length; i++)
        {
            Assert.Equal(standard.Images[i].Pixels, tauZero.Images[i].Pixels);
        }
    }

    [Fact]
    public void SharingStepsSavesCallsAndChangesImagesOnlyWhereClustersShare()
    {
        using StableDiffusionModel model = Model();
        var pipeline = new StableDiffusionPipeline(model);
        var options = new GenerationOptions { Steps = 10 };
        GenerationResult shared = pipeline.Generate(Prompts, options with { TargetSavings = 0.5 });
        GenerationResult standard = pipeline.Generate(Prompts, options with { Mode = GenerationMode.Standard });

        Assert.True(shared.Savings >= 0.5);
        Assert.Equal(shared.Plan!.DenoiserCalls, shared.DenoiserCalls);
        Assert.Equal(60, shared.StandardDenoiserCalls);
        Assert.Contains(Enumerable.Range(0, Prompts.Length), i => !shared.Images[i].Pixels.SequenceEqual(standard.Images[i].Pixels));
        Assert.All(shared.Images, image => Assert.Equal((64, 64), (image.Width, image.Height)));
    }

    [Fact]
    public void MaxBatchChangesNoPixelByMoreThanOneLevel()
    {
        using StableDiffusionModel model = Model();
        var pipeline = new StableDiffusionPipeline(model);
        var options = new GenerationOptions { Steps = 8, TargetSavings = 0.4 };
        GenerationResult one = pipeline.Generate(Prompts, options with { MaxBatch = 1 });
        GenerationResult many = pipeline.Generate(Prompts, options with { MaxBatch = 32 });
        for (int i = 0; i < Prompts.Length; i++)
        {
            byte[] a = one.Images[i].Pixels;
            byte[] b = many.Images[i].Pixels;
            Assert.True(a.Zip(b).All(p => Math.Abs(p.First - p.Second) <= 1), $"prompt {i} differs by more than 1/255");
        }
    }

    [Theory]
    [InlineData(TimestepKind.Int64Batch, false, false, false)]
    [InlineData(TimestepKind.Float32Batch, false, true, false)]
    [InlineData(TimestepKind.Float32Scalar, false, false, true)]
    [InlineData(TimestepKind.Float32Batch, true, false, false)]
    [InlineData(TimestepKind.Float32Scalar, true, true, true)]
    public void EveryExportVariantGenerates(TimestepKind timestep, bool fp16, bool int64Ids, bool externalData)
    {
        using StableDiffusionModel model = Model(new TinyModelOptions { Timestep = timestep, Float16 = fp16, InputIdsInt64 = int64Ids, UNetExternalData = externalData });
        GenerationResult result = new StableDiffusionPipeline(model).Generate(Prompts[..3], new GenerationOptions { Steps = 4, Tau = 1000 });
        Assert.Equal(3, result.Images.Count);
        Assert.Equal(4 - 1 + 3, result.DenoiserCalls);
        Assert.All(result.Images, image => Assert.Equal(64 * 64 * 3, image.Pixels.Length));
    }

    [Fact]
    public void GuidanceAndTheNegativePromptChangeTheImage()
    {
        using StableDiffusionModel model = Model();
        var pipeline = new StableDiffusionPipeline(model);
        var options = new GenerationOptions { Steps = 6, Mode = GenerationMode.Standard };
        byte[] plain = pipeline.Generate(Prompts[..1], options).Images[0].Pixels;
        Assert.NotEqual(plain, pipeline.Generate(Prompts[..1], options with { Guidance = 1 }).Images[0].Pixels);
        Assert.NotEqual(plain, pipeline.Generate(Prompts[..1], options with { NegativePrompt = "blurry" }).Images[0].Pixels);
        Assert.Equal(plain, pipeline.Generate(Prompts[..1], options).Images[0].Pixels);
    }

    [Fact]
    public void AnUnknownSchedulerIsRefusedByName()
    {
        using StableDiffusionModel model = Model();
        var e = Assert.Throws<HierDiffInputException>(() =>
            new StableDiffusionPipeline(model).Generate(Prompts, new GenerationOptions { Scheduler = "heun" }));
        Assert.Contains("heun", e.Message);
        Assert.Contains("ddpm", e.Message);
    }
}
