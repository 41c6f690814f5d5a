using HierDiff.Core;
using HierDiff.Models.Onnx;
using HierDiff.TestModels;

namespace HierDiff.Models.Tests;

public sealed class StableDiffusionModelTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private string Export(TinyModelOptions? options = null) => TinyStableDiffusion.Write(_temp.Sub("model"), options);

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
        string dir = Export();
        BrokenModels.DeleteFile(dir, file);
        var e = Assert.Throws<HierDiffInputException>(() => StableDiffusionModel.Load(dir, OnnxDevice.Cpu));
        Assert.Contains($"missing {file}", e.Message);
        Assert.Contains("expected model_index.json", e.Message);
    }

    [Fact]
    public void AMissingFolderIsNamed() =>
        Assert.Contains("no such model folder", Assert.Throws<HierDiffInputException>(() => StableDiffusionModel.Load(_temp.Sub("nothing"), OnnxDevice.Cpu)).Message);

    [Fact]
    public void AUNetWithOtherInputNamesIsRefusedListingExpectedAndFound()
    {
        string dir = Export();
        BrokenModels.RenameUNetInput(dir, "encoder_hidden_states", "hidden_states");
        var e = Assert.Throws<HierDiffInputException>(() => StableDiffusionModel.Load(dir, OnnxDevice.Cpu));
        Assert.Contains("unet/model.onnx", e.Message);
        Assert.Contains("expected inputs sample", e.Message);
        Assert.Contains("encoder_hidden_states (float32|float16, rank 3)", e.Message);
        Assert.Contains("found inputs", e.Message);
        Assert.Contains("hidden_states (float32", e.Message);
    }

    [Fact]
    public void ATextEncoderWithoutPooledOutputIsRefused()
    {
        string dir = Export();
        BrokenModels.RemoveTextEncoderPooledOutput(dir);
        var e = Assert.Throws<HierDiffInputException>(() => StableDiffusionModel.Load(dir, OnnxDevice.Cpu));
        Assert.Contains("text_encoder/model.onnx: expected outputs last_hidden_state", e.Message);
        Assert.Contains("pooler_output", e.Message);
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
