using HierDiff.Core;
using HierDiff.Models.Clip;
using HierDiff.Models.Images;
using HierDiff.TestModels;

namespace HierDiff.Models.Tests.Clip;

public sealed class ClipModelTests
{
    private static readonly string[] Prompts = ["a red circle on a blue background", "a small green square", "a yellow triangle at the top left", "x"];

    [Fact]
    public void Embeddings_AreUnitVectorsOfTheProjectionWidth_OnePerInput()
    {
        using var temp = new TempDirectory();
        using ClipModel clip = ClipModel.Load(TinyClip.Write(temp.Sub("clip")));
        (float[][] texts, float[][] images) = clip.Embed(Prompts, Images(3));
        Assert.Equal(Prompts.Length, texts.Length);
        Assert.Equal(3, images.Length);
        Assert.All(texts.Concat(images), e =>
        {
            Assert.Equal(TinyClip.ProjectionDim, e.Length);
            Assert.Equal(1.0, Math.Sqrt(e.Sum(v => (double)v * v)), 5);
        });
    }

    [Fact]
    public void TheSplitExport_GivesTheMonolithsEmbeddings()
    {
        using var temp = new TempDirectory();
        using ClipModel monolith = ClipModel.Load(TinyClip.Write(temp.Sub("one"), ClipLayout.Monolith));
        using ClipModel split = ClipModel.Load(TinyClip.Write(temp.Sub("two"), ClipLayout.Split));
        (float[][] t1, float[][] i1) = monolith.Embed(Prompts, Images(4));
        (float[][] t2, float[][] i2) = split.Embed(Prompts, Images(4));
        for (int i = 0; i < 4; i++)
        {
            Assert.All(t1[i].Zip(t2[i]), p => Assert.Equal(p.First, p.Second, 5));
            Assert.All(i1[i].Zip(i2[i]), p => Assert.Equal(p.First, p.Second, 5));
        }
    }

    [Fact]
    public void Embeddings_AreTheSameBytes_RunAfterRun_AndTheSameWhateverTheBatchHolds()
    {
        using var temp = new TempDirectory();
        string folder = TinyClip.Write(temp.Sub("clip"));
        RgbImage[] images = Images(20);
        string[] texts = Enumerable.Range(0, 20).Select(i => $"prompt number {i}").ToArray();
        using ClipModel first = ClipModel.Load(folder);
        using ClipModel second = ClipModel.Load(folder);
        (float[][] a, float[][] b) = first.Embed(texts, images);
        (float[][] c, float[][] d) = second.Embed(texts, images);
        Assert.Equal(a, c);
        Assert.Equal(b, d);

        // 20 inputs run as 16 + 4; alone, input 17 is a batch of one.
        (float[][] t, float[][] i) = first.Embed([texts[17]], [images[17]]);
        Assert.All(t[0].Zip(a[17]), p => Assert.Equal(p.First, p.Second, 5));
        Assert.All(i[0].Zip(b[17]), p => Assert.Equal(p.First, p.Second, 5));
    }

    [Fact]
    public void Score_IsOneHundredTimesThePositiveCosine()
    {
        Assert.Equal(100, ClipModel.Score([1, 0], [2, 0]), 10);
        Assert.Equal(100 * Math.Sqrt(0.5), ClipModel.Score([1, 1], [0, 3]), 10);
        Assert.Equal(0, ClipModel.Score([1, 0], [-1, 0.5f]));
    }

    [Fact]
    public void MoreTextsThanImages_AndTheReverse_EachGetTheirOwnEmbeddings()
    {
        using var temp = new TempDirectory();
        using ClipModel clip = ClipModel.Load(TinyClip.Write(temp.Sub("clip")));
        (float[][] texts, float[][] none) = clip.Embed(Prompts, []);
        (float[][] noTexts, float[][] images) = clip.Embed([], Images(2));
        (float[][] bothTexts, float[][] bothImages) = clip.Embed(Prompts, Images(2));
        Assert.Empty(none);
        Assert.Empty(noTexts);
        Assert.All(texts.Zip(bothTexts), p => Assert.Equal(p.First, p.Second));
        Assert.All(images.Zip(bothImages), p => Assert.Equal(p.First, p.Second));
    }

    [Fact]
    public void AFolderWithoutAModel_IsRefusedWithWhatItNeeds()
    {
        using var temp = new TempDirectory();
        string folder = TinyClip.Write(temp.Sub("clip"));
        File.Delete(Path.Combine(folder, ClipModel.MonolithFile));
        var e = Assert.Throws<HierDiffInputException>(() => ClipModel.Load(folder));
        Assert.Contains("not a CLIP ONNX export", e.Message);
        Assert.Contains("text_model.onnx and vision_model.onnx", e.Message);
    }

    [Fact]
    public void AModelWithoutImageEmbeddings_IsRefusedByFile()
    {
        using var temp = new TempDirectory();
        string folder = TinyClip.Write(temp.Sub("clip"), ClipLayout.Split);
        File.Copy(Path.Combine(folder, ClipModel.TextFile), Path.Combine(folder, ClipModel.VisionFile), overwrite: true);
        var e = Assert.Throws<HierDiffInputException>(() => ClipModel.Load(folder));
        Assert.Contains("vision_model.onnx", e.Message);
        Assert.Contains("pixel_values", e.Message);
    }

    [Fact]
    public void AMissingTokenizer_IsNamed()
    {
        using var temp = new TempDirectory();
        string folder = TinyClip.Write(temp.Sub("clip"));
        File.Delete(Path.Combine(folder, "vocab.json"));
        var e = Assert.Throws<HierDiffInputException>(() => ClipModel.Load(folder));
        Assert.Contains("vocab.json", e.Message);
    }

    /// <summary>Images of different sizes (so each is resized differently), from a seeded generator.</summary>
    internal static RgbImage[] Images(int count)
    {
        var random = new Random(7);
        return Enumerable.Range(0, count).Select(i =>
        {
            int w = 40 + (i * 13 % 50), h = 30 + (i * 29 % 60);
            var pixels = new byte[w * h * 3];
            random.NextBytes(pixels);
            return new RgbImage(w, h, pixels);
        }).ToArray();
    }
}
