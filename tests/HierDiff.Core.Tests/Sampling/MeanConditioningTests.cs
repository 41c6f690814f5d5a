using HierDiff.Core.Sampling;

namespace HierDiff.Core.Tests.Sampling;

public class MeanConditioningTests
{
    private static readonly float[][] Vectors = [[1f, 2f, 3f], [3f, 2f, 1f], [0.1f, 0.2f, 0.3f], [0.1f, 0.2f, 0.3f]];

    [Fact]
    public void AClusterGetsThePlainMeanOfItsPrompts() =>
        Assert.Equal([2f, 2f, 2f], new MeanConditioning(Vectors).For([0, 1]));

    [Fact]
    public void OnePromptAndIdenticalPromptsGetTheirOwnVectorBitForBit()
    {
        var conditioning = new MeanConditioning(Vectors);
        Assert.Same(Vectors[1], conditioning.For([1]));
        Assert.Equal(Vectors[2], conditioning.For([2, 3]));
    }
}
