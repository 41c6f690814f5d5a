using HierDiff.Core;
using HierDiff.Models.Onnx;
using HierDiff.TestModels;

namespace HierDiff.Models.Tests;

public sealed class StableDiffusionModelTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private string Export(TinyModelOptions? options = null) => TinyStableDiffusion.Write(_temp.Sub("model"), options);

    /// <summary>The input error that loading a fresh export gives once <paramref name="damage"/> has changed its folder.</summary>
    private string LoadErrorAfter(Action<string> damage)
    {
        string dir = Export();
        damage(dir);
        return Assert.Throws<HierDiffInputException>(() => StableDiffusionModel.Load(dir, OnnxDevice.Cpu)).Message;
    }

    [Fact]
    public void AnExportLoadsWithItsShapesAndScheduler()
    {
        using var model = StableDiffusionModel.Load(Export(), OnnxDevice.Cpu);
        Assert.Equal((4, 8, 8), (model.LatentChannels, model.LatentHeight, model.LatentWidth));
        Assert.Equal("model", model.Name);
        Assert.Equal("PNDMScheduler", model.SchedulerConfig.ClassName);
        Assert.Equal(77, model.TextEncoder.SequenceLength);
    }

    [Theory]
    [InlineData("unet/model.onnx")]
    [InlineData("tokenizer/merges.txt")]
    [InlineData("scheduler/scheduler_config.json")]
    public void AMissingFileIsNamed(string file)
    {
        string message = LoadErrorAfter(dir => BrokenModels.DeleteFile(dir, file));
        Assert.Contains($"missing {file}", message);
        Assert.Contains("expected model_index.json", message);
    }

    [Fact]
    public void AMissingFolderIsNamed() =>
        Assert.Contains("no such model folder", Assert.Throws<HierDiffInputException>(() => StableDiffusionModel.Load(_temp.Sub("nothing"), OnnxDevice.Cpu)).Message);

    [Fact]
    public void AUNetWithOtherInputNamesIsRefusedListingExpectedAndFound()
    {
        string message = LoadErrorAfter(dir => BrokenModels.RenameUNetInput(dir, "encoder_hidden_states", "hidden_states"));
        Assert.Contains("unet/model.onnx", message);
        Assert.Contains("expected inputs sample", message);
        Assert.Contains("encoder_hidden_states (float32|float16, rank 3)", message);
        Assert.Contains("found inputs", message);
        Assert.Contains("hidden_states (float32", message);
    }

    [Fact]
    public void ATextEncoderWithoutPooledOutputIsRefused()
    {
        string message = LoadErrorAfter(BrokenModels.RemoveTextEncoderPooledOutput);
        Assert.Contains("text_encoder/model.onnx: expected outputs last_hidden_state", message);
        Assert.Contains("pooler_output", message);
    }

    [Theory]
    [InlineData("{\"scaling_factor\": 0}", "scaling_factor must be a positive number (0.18215 for Stable Diffusion 1.x/2.x), not 0")]
    [InlineData("{\"scaling_factor\": -0.18215}", "scaling_factor must be a positive number")]
    [InlineData("{\"scaling_factor\": 1e300}", "scaling_factor must be a positive number")]
    [InlineData("{\"scaling_factor\": \"0.18215\"}", "scaling_factor must be a number, not \"0.18215\"")]
    [InlineData("[0.18215]", "expected a JSON object")]
    public void AVaeScalingFactorThatWouldGiveBlankImagesIsRefused(string config, string expected) =>
        Assert.Contains(
            "vae_decoder/config.json: " + expected,
            LoadErrorAfter(dir => File.WriteAllText(Path.Combine(dir, "vae_decoder", "config.json"), config)));

    [Fact]
    public void AUNetSampleSizeOfZeroIsRefused() =>
        Assert.Contains(
            "unet/config.json: sample_size must be a whole number",
            LoadErrorAfter(dir => File.WriteAllText(Path.Combine(dir, "unet", "config.json"), "{\"sample_size\": 0}")));

    [Theory]
    [InlineData("not json at all", "model_index.json: invalid JSON")]
    [InlineData("{}", "model_index.json: no \"_class_name\" string naming the diffusers pipeline")]
    [InlineData("{\"_class_name\": \"StableDiffusionXLPipeline\"}", "model_index.json: the export is a StableDiffusionXLPipeline; HierDiff runs Stable Diffusion 1.x/2.x exports")]
    [InlineData("{\"_class_name\": \"KandinskyV22Pipeline\"}", "the export is a KandinskyV22Pipeline")]
    public void ModelIndexIsParsedAndItsPipelineChecked(string index, string expected) =>
        Assert.Contains(expected, LoadErrorAfter(dir => File.WriteAllText(Path.Combine(dir, "model_index.json"), index)));

    [Theory]
    [InlineData("StableDiffusionPipeline")]
    [InlineData("ORTStableDiffusionPipeline")]
    public void TheStableDiffusionPipelinesOfDiffusersAndOptimumLoad(string className)
    {
        string dir = Export();
        string path = Path.Combine(dir, "model_index.json");
        File.WriteAllText(path, File.ReadAllText(path).Replace("OnnxStableDiffusionPipeline", className, StringComparison.Ordinal));
        using var model = StableDiffusionModel.Load(dir, OnnxDevice.Cpu);
        Assert.Equal(4, model.LatentChannels);
    }

    [Fact]
    public void CudaInACpuBuildIsAClearErrorNotAFallBack()
    {
        string dir = Export();
        var e = Assert.Throws<HierDiffInputException>(() => StableDiffusionModel.Load(dir, OnnxDevice.Parse("cuda:0")));
        Assert.StartsWith("--device cuda:0:", e.Message);
    }

    [Theory]
    [InlineData("cpu", "cpu")]
    [InlineData("CUDA", "cuda:0")]
    [InlineData("cuda:3", "cuda:3")]
    public void DevicesParse(string text, string expected) => Assert.Equal(expected, OnnxDevice.Parse(text).ToString());

    [Theory]
    [InlineData("gpu")]
    [InlineData("cuda:x")]
    [InlineData("cuda:-1")]
    public void BadDevicesAreRefused(string text) =>
        Assert.Contains("is not a device", Assert.Throws<HierDiffInputException>(() => OnnxDevice.Parse(text)).Message);
}
