using HierDiff.Models.Pipelines;

namespace HierDiff.Models.Tests;

public sealed class ImageNameTests
{
    [Theory]
    [InlineData(0, 1, "images/0000.png")]
    [InlineData(42, 100, "images/0042.png")]
    [InlineData(9_999, 10_000, "images/9999.png")]
    [InlineData(42, 10_001, "images/00/00042.png")]
    [InlineData(10_000, 10_001, "images/10/10000.png")]
    [InlineData(123, 1_000_000, "images/000/000123.png")]
    [InlineData(999_999, 1_000_000, "images/999/999999.png")]
    public void ImagesAreNamedByIndex_InFoldersOfAThousandAboveTenThousand(int index, int count, string expected) =>
        Assert.Equal(expected, GenerationManifest.ImageName(index, count));

    [Fact]
    public void NoFolderOfAMillionImagesHoldsMoreThanAThousand()
    {
        int[] perFolder = [.. Enumerable.Range(0, 1_000_000).GroupBy(i => GenerationManifest.ImageName(i, 1_000_000)[..10]).Select(g => g.Count())];
        Assert.Equal(1_000, perFolder.Length);
        Assert.All(perFolder, n => Assert.Equal(GenerationManifest.ImagesPerFolder, n));
        Assert.Equal(1_000_000, Enumerable.Range(0, 1_000_000).Select(i => GenerationManifest.ImageName(i, 1_000_000)).Distinct().Count());
    }
}
