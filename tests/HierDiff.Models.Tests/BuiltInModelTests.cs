using HierDiff.Core.Embeddings;
using HierDiff.Core.Schedulers;
using HierDiff.Models.Onnx;
using HierDiff.Models.Pipelines;
using HierDiff.ShapesWorld.World;

namespace HierDiff.Models.Tests;

/// <summary>The built-in model: what ships, and the shape of the embedding its trees are built on.</summary>
public class BuiltInModelTests
{
    private static readonly ITextToImageModel Model = TextToImageModels.Shared(BuiltInModel.Directory, OnnxDevice.Cpu);

    private static double[][] Pooled(IReadOnlyList<string> prompts)
    {
        EmbeddingMatrix m = PromptEncoding.ClusterMatrix(Model.Encode(prompts), "the prompts' cluster embeddings");
        return Enumerable.Range(0, m.Rows).Select(r => m.Row(r).ToArray()).ToArray();
    }

    private static double Cosine(double[] a, double[] b) =>
        1 - (a.Zip(b).Sum(p => p.First * p.Second) / Math.Sqrt(a.Sum(x => x * x) * b.Sum(x => x * x)));

    [Fact]
    public void ItIsAStableDiffusionExportWithDdpmAsItsSampler()
    {
        Assert.Equal(SchedulerFactory.Ddpm, SchedulerFactory.NameForClass(Model.SchedulerConfig.ClassName));
        Assert.All(StableDiffusionModel.RequiredFiles, f => Assert.True(File.Exists(Path.Combine(BuiltInModel.Directory, f)), f));
        long bytes = new DirectoryInfo(BuiltInModel.Directory).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);
        Assert.True(bytes <= 25L * 1024 * 1024, $"the built-in model is {bytes / 1e6:0.0} MB; the limit is 25 MB");
    }

    [Fact]
    public void PromptsThatDifferOnlyInPatternLieCloserThanPromptsThatDifferInAnythingElse()
    {
        var random = new Random(11);
        int bases = 150;
        var prompts = new List<string>();
        for (int i = 0; i < bases; i++)
        {
            Scene s = PromptWriter.Realise(PromptWriter.RandomDescription(random), random);
            var d = new SceneDescription(s.Kind, s.ShapeColour, s.Background, s.Size, s.Position, s.Pattern);
            int seed = random.Next();
            string Write(SceneDescription x) => PromptWriter.Write(x, new Random(seed));
            prompts.Add(Write(d));
            prompts.Add(Write(d with { Pattern = (Pattern)(((int)s.Pattern + 1) % 4) }));
            prompts.Add(Write(d with { Kind = (ShapeKind)(((int)s.Kind + 1) % 3) }));
            prompts.Add(Write(d with { ShapeColour = Other(s.ShapeColour, s.Background) }));
            prompts.Add(Write(d with { Background = Other(s.Background, s.ShapeColour) }));
            prompts.Add(Write(d with { Size = (ShapeSize)(1 - (int)s.Size) }));
            prompts.Add(Write(d with { Position = (Position)(((int)s.Position + 1) % 5) }));
        }

        double[][] e = Pooled(prompts);
        double worstPattern = 0, nearestOther = double.MaxValue;
        for (int i = 0; i < bases; i++)
        {
            double[] b = e[i * 7];
            double pattern = Cosine(b, e[(i * 7) + 1]);
            double other = Enumerable.Range(2, 5).Min(k => Cosine(b, e[(i * 7) + k]));
            Assert.True(pattern < other, $"'{prompts[i * 7]}': its pattern variant is at {pattern:0.####}, another variant at {other:0.####}");
            worstPattern = Math.Max(worstPattern, pattern);
            nearestOther = Math.Min(nearestOther, other);
        }

        // Pattern variants must sit well inside every other difference: the gap lets a tree group them first.
        Assert.True(nearestOther / worstPattern >= 5, $"pattern variants reach {worstPattern:0.####}, other differences start at {nearestOther:0.####}");
    }

    [Fact]
    public void ColoursKeepTheirRoles()
    {
        // "a black triangle on a yellow background" is nearer "a black triangle on a green background" than
        // "a yellow triangle on a black background", for every kind and colour triple.
        var prompts = new List<string>();
        var triples = new List<(string A, string B, string C)>();
        foreach (ShapeKind kind in Enum.GetValues<ShapeKind>())
        {
            foreach (Colour a in Palette.All)
            {
                foreach (Colour b in Palette.All.Where(b => b != a))
                {
                    Colour c = Palette.All.First(c => c != a && c != b);
                    string k = PromptWriter.Name(kind);
                    prompts.Add($"{Shape(a, k)} on {Background(b)}");
                    prompts.Add($"{Shape(a, k)} on {Background(c)}");
                    prompts.Add($"{Shape(b, k)} on {Background(a)}");
                }
            }
        }

        double[][] e = Pooled(prompts);
        for (int i = 0; i < prompts.Count; i += 3)
        {
            Assert.True(Cosine(e[i], e[i + 1]) < Cosine(e[i], e[i + 2]), $"'{prompts[i]}' is nearer '{prompts[i + 2]}' than '{prompts[i + 1]}'");
        }
    }

    private static string Shape(Colour c, string kind) => $"{(c == Colour.Orange ? "an" : "a")} {Palette.Name(c)} {kind}";

    private static string Background(Colour c) => $"{(c == Colour.Orange ? "an" : "a")} {Palette.Name(c)} background";

    private static Colour Other(Colour colour, Colour not) => Palette.All.First(c => c != colour && c != not);
}
