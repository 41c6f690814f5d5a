using HierDiff.TestModels;
using Microsoft.ML.OnnxRuntime;
using OnnxModel = global::Onnx.ModelProto;

namespace HierDiff.Models.Tests.Fixtures;

public sealed class BrokenModelsTests
{
    [Fact]
    public void DeleteFile_RemovesJustThatFile()
    {
        using var temp = new TempDirectory();
        var folder = TinyStableDiffusion.Write(temp.Sub("model"), new TinyModelOptions { UNetExternalData = true });
        var before = TinyStableDiffusionTests.RelativeFiles(folder);

        BrokenModels.DeleteFile(folder, "unet/model.onnx_data");

        Assert.Equal(before.Where(f => f != "unet/model.onnx_data"), TinyStableDiffusionTests.RelativeFiles(folder));
        Assert.ThrowsAny<OnnxRuntimeException>(() => TinyStableDiffusionTests.Open(folder, "unet"));
        Assert.Throws<FileNotFoundException>(() => BrokenModels.DeleteFile(folder, "unet/model.onnx_data"));
    }

    [Fact]
    public void Corrupt_MakesTheModelUnloadable()
    {
        using var temp = new TempDirectory();
        var folder = TinyStableDiffusion.Write(temp.Sub("model"));

        BrokenModels.Corrupt(folder, "vae_decoder/model.onnx");

        Assert.ThrowsAny<OnnxRuntimeException>(() => TinyStableDiffusionTests.Open(folder, "vae_decoder"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void RenameUNetInput_LeavesAWorkingModelWithTheOtherName(bool external)
    {
        using var temp = new TempDirectory();
        var folder = TinyStableDiffusion.Write(temp.Sub("model"), new TinyModelOptions { UNetExternalData = external });

        BrokenModels.RenameUNetInput(folder);

        using var unet = TinyStableDiffusionTests.Open(folder, "unet");
        Assert.Equal(["hidden_states", "sample", "timestep"], unet.InputMetadata.Keys.Order(StringComparer.Ordinal));
        Assert.Throws<ArgumentException>(() => BrokenModels.RenameUNetInput(folder));
    }

    [Fact]
    public void RemoveTextEncoderPooledOutput_LeavesOnlyTheHiddenStates()
    {
        using var temp = new TempDirectory();
        var folder = TinyStableDiffusion.Write(temp.Sub("model"));

        BrokenModels.RemoveTextEncoderPooledOutput(folder);

        using var text = TinyStableDiffusionTests.Open(folder, "text_encoder");
        Assert.Equal(["input_ids"], text.InputMetadata.Keys);
        Assert.Equal(["last_hidden_state"], text.OutputMetadata.Keys);
        var ids = Enumerable.Repeat(49407L, 2 * 77).ToArray();
        ids[0] = ids[77] = 49406;
        var outputs = OrtTensors.Run(text, new Dictionary<string, OrtValue>
        {
            ["input_ids"] = OrtTensors.Integers(text, "input_ids", ids, 2, 77),
        });
        Assert.Equal([2L, 77, 32], outputs["last_hidden_state"].Shape);

        var model = OnnxModel.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(folder, "text_encoder", "model.onnx")));
        Assert.DoesNotContain(model.Graph.Node, n => n.OpType is "ArgMax" or "GatherElements");
        Assert.Throws<ArgumentException>(() => BrokenModels.RemoveTextEncoderPooledOutput(folder));
    }
}
