using System.Numerics;
using HierDiff.Core.Embeddings;

namespace HierDiff.Core.Clustering;

/// <summary>
/// Pairwise cosine distances 1 - u.v / (|u| |v|) in scipy's condensed layout (pdist): the pairs (i, j), i &lt; j,
/// row by row. Like scipy, a cosine whose rounding puts it outside [-1, 1] is clipped, so distances lie in [0, 2].
/// </summary>
public static class CosineDistances
{
    // Rows are processed in tiles so that a tile of rows stays in cache while every later row streams past it.
    private const int TileRows = 48;

    public static double[] Condensed(EmbeddingMatrix x)
    {
        int n = x.Rows;
        var norms = new double[n];
        for (int i = 0; i < n; i++)
        {
            norms[i] = Math.Sqrt(Dot(x.Row(i), x.Row(i)));
        }

        var distances = new double[(long)n * (n - 1) / 2];
        int tiles = (n + TileRows - 1) / TileRows;

        // Each pair is written by exactly one tile and computed the same way whatever the thread, so the result
        // does not depend on scheduling.
        Parallel.For(0, tiles, tile =>
        {
            int start = tile * TileRows;
            int end = Math.Min(n, start + TileRows);
            for (int j = start + 1; j < n; j++)
            {
                ReadOnlySpan<double> v = x.Row(j);
                int last = Math.Min(end, j);
                for (int i = start; i < last; i++)
                {
                    double cosine = Dot(x.Row(i), v) / (norms[i] * norms[j]);
                    if (Math.Abs(cosine) > 1)
                    {
                        cosine = Math.CopySign(1, cosine);
                    }

                    distances[CondensedIndex(n, i, j)] = 1 - cosine;
                }
            }
        });
        return distances;
    }

    /// <summary>u.v with SIMD lanes: the summation order differs from a plain loop only in the last few bits.</summary>
    internal static double Dot(ReadOnlySpan<double> u, ReadOnlySpan<double> v)
    {
        int width = Vector<double>.Count;
        var sum0 = Vector<double>.Zero;
        var sum1 = Vector<double>.Zero;
        int k = 0;
        for (; k <= u.Length - (2 * width); k += 2 * width)
        {
            sum0 += new Vector<double>(u[k..]) * new Vector<double>(v[k..]);
            sum1 += new Vector<double>(u[(k + width)..]) * new Vector<double>(v[(k + width)..]);
        }

        double sum = Vector.Sum(sum0 + sum1);
        for (; k < u.Length; k++)
        {
            sum += u[k] * v[k];
        }

        return sum;
    }

    /// <summary>Position of the pair (i, j), i != j, in a condensed matrix of n points (scipy's formula).</summary>
    public static long CondensedIndex(int n, int i, int j)
    {
        if (i > j)
        {
            (i, j) = (j, i);
        }

        return ((long)n * i) - ((long)i * (i + 1) / 2) + (j - i - 1);
    }
}
