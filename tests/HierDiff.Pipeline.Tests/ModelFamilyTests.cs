using System.Text;
using System.Text.Json;
using HierDiff.Core.Runs;
using HierDiff.Core.Schedulers;
using HierDiff.Models;
using HierDiff.Models.Onnx;
using HierDiff.Pipeline.Activities;
using HierDiff.Pipeline.Orchestration;
using HierDiff.Pipeline.Storage;
using HierDiff.TestModels;

namespace HierDiff.Pipeline.Tests;

/// <summary>
/// Each family HierDiff loads, in its export's layout, through the whole pipeline: SD 1.x, SD 2.x at 768 px with
/// v-prediction (DDIM and Euler configs, "!" padding) and at 512 px, SDXL and Kandinsky 2.2 (fp32 and fp16, and the
/// trained built-in shapes-kandinsky). The invariants hold
/// for each: images of the export's size, sharing saves calls, tau 0 is standard generation bit for bit, and how
/// a tree is cut into activities (trajectories handed off through the store) changes no byte.
/// </summary>
public sealed class ModelFamilyTests : IDisposable
{
    private static readonly string[] Prompts = ShapePrompts.FiveInThreeGroups;

    private readonly TempDirectory _temp = new("hierdiff-families-");

    private string Root => _temp.Path;

    public void Dispose() => _temp.Dispose();

    public static TheoryData<string, int> Families()
    {
        var data = new TheoryData<string, int>();
        foreach (string family in TinyExports.Families)
        {
            data.Add(family, TinyExports.ImageSize(family));
        }

        // The trained Kandinsky-style built-in model, as it ships.
        data.Add(BuiltInModel.KandinskyName, 64);
        return data;
    }

    private string Export(string family) =>
        family == BuiltInModel.KandinskyName ? BuiltInModel.KandinskyDirectory : TinyExports.Write(family, Path.Combine(Root, family));

    private static async Task<byte[][]> Run(ITextToImageModel model, LocalRunStore store, string run, GenerationOptions options, int maxSubtreeCalls = PipelineSettings.DefaultMaxSubtreeCalls)
    {
        if (await store.ReadAsync(Containers.Prompts, "p.txt") is null)
        {
            await store.WriteAsync(Containers.Prompts, "p.txt", Encoding.UTF8.GetBytes(string.Join('\n', Prompts)));
        }

        RunOutcome outcome = await new LocalPipeline(store, () => model, new PipelineSettings { MaxSubtreeCalls = maxSubtreeCalls })
            .RunAsync(new RunInput(run, "p.txt", options));
        Assert.True(outcome.Succeeded, outcome.Error);
        return await Task.WhenAll(Enumerable.Range(0, Prompts.Length)
            .Select(async i => (await store.ReadAsync(Containers.Images, RunBlobs.Image(run, i, Prompts.Length)))!));
    }

    [Theory]
    [MemberData(nameof(Families))]
    public async Task EachFamilyMakesImagesOfItsExportsSizeAndSharingSavesCalls(string family, int pixels)
    {
        ITextToImageModel model = TextToImageModels.Load(Export(family), OnnxDevice.Cpu);
        var store = new LocalRunStore(Path.Combine(Root, family + "-store"));
        byte[][] images = await Run(model, store, "shared", new GenerationOptions { Steps = 4, TargetSavings = 0.3, Guidance = 4 });

        Assert.All(images, png => Assert.Equal((pixels, pixels), PngFiles.Size(png)));
        Assert.Equal(Prompts.Length, images.Select(PngFiles.Pixels).Select(Convert.ToBase64String).Distinct().Count());
        using JsonDocument manifest = JsonDocument.Parse((await store.ReadAsync(Containers.Runs, RunBlobs.Manifest("shared")))!);
        Assert.True(manifest.RootElement.GetProperty("savings").GetDouble() >= 0.3);
        Assert.Equal(SchedulerFactory.NameForClass(model.SchedulerConfig.ClassName) ?? SchedulerFactory.Ddpm, manifest.RootElement.GetProperty("scheduler").GetString());
        (model as IDisposable)?.Dispose();
    }

    [Theory]
    [MemberData(nameof(Families))]
    public async Task TauZeroIsStandardGenerationBitForBitInEachFamily(string family, int pixels)
    {
        ITextToImageModel model = TextToImageModels.Load(Export(family), OnnxDevice.Cpu);
        var store = new LocalRunStore(Path.Combine(Root, family + "-store"));
        var options = new GenerationOptions { Steps = 3, Tau = 0 };
        byte[][] tauZero = await Run(model, store, "t0", options);
        byte[][] standard = await Run(model, store, "std", options with { Tau = null, Mode = GenerationMode.Standard });
        Assert.Equal(standard.Select(PngFiles.Pixels), tauZero.Select(PngFiles.Pixels));
        Assert.All(standard, png => Assert.Equal(pixels, PngFiles.Size(png).Width));
        (model as IDisposable)?.Dispose();
    }

    [Theory]
    [MemberData(nameof(Families))]
    public async Task HandingTrajectoriesOffThroughTheStoreChangesNoByteInEachFamily(string family, int pixels)
    {
        ITextToImageModel model = TextToImageModels.Load(Export(family), OnnxDevice.Cpu);
        var options = new GenerationOptions { Steps = 4, Tau = 1.0, MaxBatch = 1 };

        // Every segment its own activity (each continues its source's latent read back from the store) against
        // each subtree in one activity.
        byte[][] handedOff = await Run(model, new LocalRunStore(Path.Combine(Root, family + "-each")), "r", options, maxSubtreeCalls: 0);
        byte[][] whole = await Run(model, new LocalRunStore(Path.Combine(Root, family + "-whole")), "r", options, maxSubtreeCalls: int.MaxValue);
        Assert.Equal(whole, handedOff);
        Assert.All(whole, png => Assert.Equal(pixels, PngFiles.Size(png).Height));
        (model as IDisposable)?.Dispose();
    }
}
