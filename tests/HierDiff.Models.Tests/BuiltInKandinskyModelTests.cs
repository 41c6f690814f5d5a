using HierDiff.Core.Embeddings;
using HierDiff.Core.Schedulers;
using HierDiff.Models.Onnx;
using HierDiff.Models.Pipelines;
using HierDiff.ShapesWorld.World;

namespace HierDiff.Models.Tests;

/// <summary>The second built-in model, models/shapes-kandinsky: a Kandinsky 2.2 in HierDiff's layout, trained on the
/// shapes world. What ships, and what its prior's image embeddings, which its trees are built on, hold.</summary>
public class BuiltInKandinskyModelTests
{
    private static readonly Kandinsky22Model Model = (Kandinsky22Model)TextToImageModels.Shared(BuiltInModel.KandinskyDirectory, OnnxDevice.Cpu);

    [Fact]
    public void ItIsAKandinskyExportUnder25MegabytesWithItsModelCard()
    {
        Assert.All(Kandinsky22Model.RequiredFiles, f => Assert.True(File.Exists(Path.Combine(BuiltInModel.KandinskyDirectory, f)), f));
        Assert.True(File.Exists(Path.Combine(BuiltInModel.KandinskyDirectory, "README.md")));
        Assert.True(File.Exists(Path.Combine(BuiltInModel.KandinskyDirectory, "training.json")));
        long bytes = new DirectoryInfo(BuiltInModel.KandinskyDirectory).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);
        Assert.True(bytes <= 25L * 1024 * 1024, $"the built-in model is {bytes / 1e6:0.0} MB; the limit is 25 MB");
        Assert.Equal(SchedulerFactory.Ddpm, SchedulerFactory.NameForClass(Model.SchedulerConfig.ClassName));
        Assert.Equal(new LatentShape(8, 16, 16), Model.Latent);
        Assert.Equal(64, Model.Prior.EmbeddingDim);
    }

    [Fact]
    public void ItsMovqDecoderIsTheFirstBuiltInModelsLatentDecoderByteForByte()
    {
        Assert.Equal(
            File.ReadAllBytes(Path.Combine(BuiltInModel.Directory, "vae_decoder", "model.onnx")),
            File.ReadAllBytes(Path.Combine(BuiltInModel.KandinskyDirectory, "movq_decoder", "model.onnx")));
    }

    [Fact]
    public void APromptsImageEmbeddingIsTheSameInAnyBatchAndOrderAndDiffersBetweenPrompts()
    {
        // The same noise (keyed by the text) in any batch; ONNX Runtime's kernels round differently for other batch
        // shapes, so the embeddings agree to float rounding.
        string[] prompts = ["a red circle on a blue background", "a large green square", "a striped yellow triangle on the left"];
        IReadOnlyList<PromptEncoding> forward = Model.Encode(prompts);
        IReadOnlyList<PromptEncoding> backward = Model.Encode([.. prompts.Reverse()]);
        Assert.Equal(forward.Select(e => e.ClusterEmbedding), Model.Encode(prompts).Select(e => e.ClusterEmbedding));
        for (int i = 0; i < prompts.Length; i++)
        {
            AssertClose(forward[i].ClusterEmbedding, backward[prompts.Length - 1 - i].ClusterEmbedding);
            AssertClose(forward[i].ClusterEmbedding, Model.Encode([prompts[i]])[0].ClusterEmbedding);
        }

        Assert.NotEqual(forward[0].ClusterEmbedding, forward[1].ClusterEmbedding);
        Assert.All(forward, e => Assert.All(e.ClusterEmbedding, v => Assert.True(float.IsFinite(v))));
    }

    [Fact]
    public void ItsImageEmbeddingsPlaceAPromptNearerItsRewordingThanAnotherScene()
    {
        // The same fully specified scene in two wordings lies nearer itself than the same scene in another colour.
        var random = new Random(5);
        int nearer = 0, scenes = 60;
        for (int i = 0; i < scenes; i++)
        {
            Scene s = PromptWriter.Realise(PromptWriter.RandomDescription(random), random);
            var d = new SceneDescription(s.Kind, s.ShapeColour, s.Background, s.Size, s.Position, s.Pattern);
            Colour other = Palette.All.First(c => c != s.ShapeColour && c != s.Background);
            string[] texts = [PromptWriter.Write(d, new Random(i)), PromptWriter.Write(d, new Random(i + 1000)), PromptWriter.Write(d with { ShapeColour = other }, new Random(i))];
            EmbeddingMatrix m = PromptEncoding.ClusterMatrix(Model.Encode(texts), "embeddings");
            nearer += Cosine(m.Row(0), m.Row(1)) < Cosine(m.Row(0), m.Row(2)) ? 1 : 0;
        }

        Assert.True(nearer >= scenes * 0.9, $"only {nearer} of {scenes} rewordings lie nearer than a recoloured scene");
    }

    private static void AssertClose(float[] expected, float[] actual)
    {
        double scale = expected.Max(Math.Abs);
        Assert.All(expected.Zip(actual), p => Assert.True(Math.Abs(p.First - p.Second) <= 1e-5 * scale, $"{p.First} != {p.Second}"));
    }

    private static double Cosine(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++)
        {
            dot += a[i] * b[i];
            na += a[i] * a[i];
            nb += b[i] * b[i];
        }

        return 1 - (dot / Math.Sqrt(na * nb));
    }
}
