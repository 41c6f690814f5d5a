using HierDiff.Core.Clustering;
using HierDiff.Core.Embeddings;
using HierDiff.Core.Planning;

namespace HierDiff.Core.Tests.Planning;

public class TauSearchTests
{
    private static readonly Linkage Tree =
        WardLinkage.FromEmbeddings(EmbeddingFile.Read(TestPaths.Data("ward", "blobs-200x64.npy")));

    [Theory]
    [InlineData(0.1)]
    [InlineData(0.3)]
    [InlineData(0.5)]
    [InlineData(0.7)]
    [InlineData(0.9)]
    public void FindsTheSmallestTauThatSavesTheTarget(double target)
    {
        double tau = TauSearch.SmallestTauForSavings(Tree, 40, target);
        Assert.True(HierarchicalPlan.Build(Tree, tau, 40).Savings >= target);
        Assert.True(HierarchicalPlan.Build(Tree, tau * (1 - 1e-9), 40).Savings < target, $"a smaller tau than {tau:R} also saves {target}");
    }

    [Fact]
    public void ZeroTargetIsTauZero() => Assert.Equal(0, TauSearch.SmallestTauForSavings(Tree, 40, 0));

    [Fact]
    public void AnUnreachableTargetNamesTheMostThatCanBeSaved()
    {
        // 200 prompts, 40 steps: at best 39 shared steps + 200 last steps = 239 calls of 8000.
        var e = Assert.Throws<HierDiffInputException>(() => TauSearch.SmallestTauForSavings(Tree, 40, 0.99));
        Assert.Contains("at most 0.9701", e.Message);
    }

    [Theory]
    [InlineData(-0.1)]
    [InlineData(1.0)]
    [InlineData(double.NaN)]
    public void TargetsOutsideZeroToOneAreRefused(double target) =>
        Assert.Throws<HierDiffInputException>(() => TauSearch.SmallestTauForSavings(Tree, 40, target));
}
