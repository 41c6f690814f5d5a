using System.Text.Json;
using HierDiff.TestModels;

namespace HierDiff.Cli.Tests;

/// <summary><c>hierdiff generate --model</c> on the other families' exports: SDXL, SD 2.x (768 px, v-prediction) and
/// Kandinsky 2.2.</summary>
public sealed class ModelFamilyCommandTests : IDisposable
{
    private readonly TempDirectory _temp = new("hierdiff-cli-families-");
    private readonly string _prompts;

    public ModelFamilyCommandTests()
    {
        _prompts = _temp.Sub("prompts.txt");
        File.WriteAllLines(_prompts, ShapePrompts.FiveInThreeGroups);
    }

    private string Root => _temp.Path;

    public void Dispose() => _temp.Dispose();

    private string Sd2() => TinyStableDiffusion.Write(Path.Combine(Root, "tiny-sd2"), new TinyModelOptions
    {
        LatentSize = 96,
        PadToken = "!",
        PredictionType = "v_prediction",
        SchedulerClass = "DDIMScheduler",
    });

    private string Sdxl() => TinyStableDiffusionXL.Write(Path.Combine(Root, "tiny-sdxl"));

    [Theory]
    [InlineData("sdxl", 64, "euler")]
    [InlineData("sd2", 768, "ddim")]
    [InlineData("kandinsky22", 64, "ddpm")]
    public void GenerateMakesImagesOfTheExportsSizeWithSharing(string family, int pixels, string scheduler)
    {
        string model = family switch
        {
            "sdxl" => Sdxl(),
            "sd2" => Sd2(),
            _ => TinyKandinsky22.Write(Path.Combine(Root, "tiny-kandinsky22")),
        };
        string output = Path.Combine(Root, "out-" + family);
        CliRunner.Result result = CliRunner.Run("generate", "--prompts", _prompts, "--model", model, "--out", output, "--steps", "5", "--target-savings", "0.3");
        Assert.True(result.ExitCode == 0, result.Stderr);

        using JsonDocument manifest = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(output, "manifest.json")));
        Assert.Equal(Path.GetFileName(model), manifest.RootElement.GetProperty("model").GetString());
        Assert.Equal(scheduler, manifest.RootElement.GetProperty("scheduler").GetString());
        Assert.True(manifest.RootElement.GetProperty("savings").GetDouble() >= 0.3);
        Assert.All(Directory.GetFiles(Path.Combine(output, "images")), png => Assert.Equal((pixels, pixels), PngFiles.Size(File.ReadAllBytes(png))));
    }

    [Fact]
    public void AnSdxlFolderWithoutItsSecondTextEncoderIsRefusedInOneLine()
    {
        string model = Sdxl();
        BrokenModels.DeleteFile(model, "text_encoder_2/model.onnx");
        string output = Path.Combine(Root, "refused");
        CliRunner.Result result = CliRunner.Run("generate", "--prompts", _prompts, "--model", model, "--out", output);
        Assert.Equal(2, result.ExitCode);
        string line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("tiny-sdxl: not a complete Stable Diffusion XL ONNX export: missing text_encoder_2/model.onnx", line);
        Assert.False(Directory.Exists(output));
    }

    [Fact]
    public void AKandinskyFolderWithoutItsPriorIsRefusedInOneLine()
    {
        string model = TinyKandinsky22.Write(Path.Combine(Root, "tiny-kandinsky22"));
        BrokenModels.DeleteFile(model, "prior/prior/model.onnx");
        string output = Path.Combine(Root, "refused");
        CliRunner.Result result = CliRunner.Run("generate", "--prompts", _prompts, "--model", model, "--out", output);
        Assert.Equal(2, result.ExitCode);
        string line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("tiny-kandinsky22: not a complete Kandinsky 2.2 ONNX export: missing prior/prior/model.onnx", line);
        Assert.False(Directory.Exists(output));
    }
}
