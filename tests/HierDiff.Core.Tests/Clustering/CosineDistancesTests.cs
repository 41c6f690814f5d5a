using HierDiff.Core.Clustering;
using HierDiff.Core.Embeddings;

namespace HierDiff.Core.Tests.Clustering;

public class CosineDistancesTests
{
    /// <summary>The SIMD kernel must round exactly as the plain scipy-order sum, for every shape of matrix:
    /// odd and even widths, row counts that do not fill a panel or a tile.</summary>
    [Theory]
    [InlineData(2, 1)]
    [InlineData(3, 3)]
    [InlineData(9, 33)]
    [InlineData(70, 17)]
    [InlineData(131, 64)]
    public void TheFastKernelGivesTheSameBitsAsTheScipyOrderSum(int rows, int columns)
    {
        var random = new Random(rows * 1000 + columns);
        double[] data = Enumerable.Range(0, rows * columns).Select(_ => random.NextDouble() - 0.3).ToArray();
        var x = new EmbeddingMatrix(rows, columns, data);
        double[] fast = CosineDistances.Condensed(x);

        int p = 0;
        for (int i = 0; i < rows; i++)
        {
            for (int j = i + 1; j < rows; j++)
            {
                double cosine = CosineDistances.ScipyDot(x.Row(i), x.Row(j))
                    / (Math.Sqrt(CosineDistances.ScipyDot(x.Row(i), x.Row(i))) * Math.Sqrt(CosineDistances.ScipyDot(x.Row(j), x.Row(j))));
                double expected = 1 - Math.Clamp(cosine, -1, 1);
                Assert.True(expected.Equals(fast[p]), $"pair ({i}, {j}): {expected:R} != {fast[p]:R}");
                Assert.Equal(p, CosineDistances.CondensedIndex(rows, i, j));
                p++;
            }
        }
    }

    [Fact]
    public void IdenticalAndOppositeVectorsAreAtTheEndsOfTheRange()
    {
        var x = new EmbeddingMatrix(3, 2, [1, 1, 1, 1, -2, -2]);
        double[] d = CosineDistances.Condensed(x);
        Assert.Equal(0, d[0], 15);
        Assert.Equal(2, d[1], 15);
        Assert.All(d, v => Assert.InRange(v, 0, 2));
    }
}
