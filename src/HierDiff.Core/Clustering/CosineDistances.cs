using System.Numerics;
using HierDiff.Core.Embeddings;

namespace HierDiff.Core.Clustering;

/// <summary>
/// Pairwise cosine distances 1 - u.v / (|u| |v|) in scipy's condensed layout (pdist): the pairs (i, j), i &lt; j,
/// row by row. Like scipy, a cosine whose rounding puts it outside [-1, 1] is clipped, so distances lie in [0, 2].
/// </summary>
/// <remarks>
/// The sums are rounded exactly as scipy's compiled <c>pdist(X, 'cosine')</c> rounds them: two partial sums, over
/// the even and the odd coordinates, added at the end, then the odd coordinate left over. Bit-equal distances
/// matter: identical prompts get distances of 0 or 1e-16 depending on rounding, and that decides whether
/// fcluster merges them at phi = 0, so it changes the paper's call count. SIMD lanes run different pairs, never
/// different parts of one sum, so the speed comes without changing a bit.
/// </remarks>
public static class CosineDistances
{
    private const int RowsPerTile = 64;

    public static double[] Condensed(EmbeddingMatrix x)
    {
        int n = x.Rows;
        int d = x.Columns;
        var norms = new double[n];
        for (int i = 0; i < n; i++)
        {
            norms[i] = Math.Sqrt(ScipyDot(x.Row(i), x.Row(i)));
        }

        var distances = new double[(long)n * (n - 1) / 2];
        double[] data = x.RawValues;
        int width = 2 * Vector<double>.Count;
        var panels = new Panel[(n + width - 1) / width];
        for (int b = 0; b < panels.Length; b++)
        {
            panels[b] = new Panel(data, d, b * width, Math.Min(width, n - (b * width)), width);
        }

        // A tile of rows i stays in cache while the panels of later rows j stream past it. Each pair (i, j) is
        // computed by exactly one tile, the same way whatever thread runs it.
        int tiles = (n + RowsPerTile - 1) / RowsPerTile;
        Parallel.For(0, tiles, tile =>
        {
            Span<double> dots = stackalloc double[2 * width];
            int firstRow = tile * RowsPerTile;
            int endRow = Math.Min(n, firstRow + RowsPerTile);
            foreach (Panel panel in panels.AsSpan((firstRow + 1) / width))
            {
                int lastColumn = panel.FirstRow + panel.Rows - 1;
                for (int i = firstRow; i < endRow && i < lastColumn; i += 2)
                {
                    int i1 = Math.Min(i + 1, n - 1);
                    panel.DotTwoRows(data.AsSpan(i * d, d), data.AsSpan(i1 * d, d), dots);
                    for (int r = 0; r < 2 && i + r < Math.Min(endRow, lastColumn); r++)
                    {
                        int row = i + r;
                        for (int c = Math.Max(0, row - panel.FirstRow + 1); c < panel.Rows; c++)
                        {
                            int j = panel.FirstRow + c;
                            double cosine = dots[(r * width) + c] / (norms[row] * norms[j]);
                            if (Math.Abs(cosine) > 1)
                            {
                                cosine = Math.CopySign(1, cosine);
                            }

                            distances[CondensedIndex(n, row, j)] = 1 - cosine;
                        }
                    }
                }
            }
        });
        return distances;
    }

    /// <summary>u.v summed as scipy's pdist sums it: (even coordinates + odd coordinates) + the last odd one.</summary>
    internal static double ScipyDot(ReadOnlySpan<double> u, ReadOnlySpan<double> v)
    {
        double even = 0;
        double odd = 0;
        int k = 0;
        for (; k + 1 < u.Length; k += 2)
        {
            even += u[k] * v[k];
            odd += u[k + 1] * v[k + 1];
        }

        double sum = even + odd;
        if (k < u.Length)
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

    /// <summary>A block of rows stored coordinate-major, so one SIMD vector holds one coordinate of several rows.</summary>
    private sealed class Panel
    {
        private readonly double[] _values;
        private readonly int _dimensions;
        private readonly int _width;

        public Panel(double[] data, int d, int firstRow, int rows, int width)
        {
            _dimensions = d;
            _width = width;
            FirstRow = firstRow;
            Rows = rows;
            _values = new double[d * width];
            for (int c = 0; c < rows; c++)
            {
                ReadOnlySpan<double> row = data.AsSpan((firstRow + c) * d, d);
                for (int k = 0; k < d; k++)
                {
                    _values[(k * width) + c] = row[k];
                }
            }
        }

        public int FirstRow { get; }

        public int Rows { get; }

        /// <summary>Dot products of two rows with every panel row, each summed in ScipyDot's order.</summary>
        public void DotTwoRows(ReadOnlySpan<double> u0, ReadOnlySpan<double> u1, Span<double> result)
        {
            int lanes = Vector<double>.Count;
            int width = _width;
            int dimensions = _dimensions;
            ReadOnlySpan<double> p = _values;
            Vector<double> e00 = default, e01 = default, e10 = default, e11 = default;
            Vector<double> o00 = default, o01 = default, o10 = default, o11 = default;
            int k = 0;
            for (; k + 1 < dimensions; k += 2)
            {
                var pe0 = new Vector<double>(p[(k * width)..]);
                var pe1 = new Vector<double>(p[((k * width) + lanes)..]);
                var po0 = new Vector<double>(p[((k + 1) * width)..]);
                var po1 = new Vector<double>(p[(((k + 1) * width) + lanes)..]);
                var a = new Vector<double>(u0[k]);
                var b = new Vector<double>(u1[k]);
                var a1 = new Vector<double>(u0[k + 1]);
                var b1 = new Vector<double>(u1[k + 1]);
                e00 += a * pe0;
                e01 += a * pe1;
                e10 += b * pe0;
                e11 += b * pe1;
                o00 += a1 * po0;
                o01 += a1 * po1;
                o10 += b1 * po0;
                o11 += b1 * po1;
            }

            Vector<double> s00 = e00 + o00, s01 = e01 + o01, s10 = e10 + o10, s11 = e11 + o11;
            if (k < dimensions)
            {
                var t0 = new Vector<double>(p[(k * width)..]);
                var t1 = new Vector<double>(p[((k * width) + lanes)..]);
                s00 += new Vector<double>(u0[k]) * t0;
                s01 += new Vector<double>(u0[k]) * t1;
                s10 += new Vector<double>(u1[k]) * t0;
                s11 += new Vector<double>(u1[k]) * t1;
            }

            s00.CopyTo(result);
            s01.CopyTo(result[lanes..]);
            s10.CopyTo(result[width..]);
            s11.CopyTo(result[(width + lanes)..]);
        }
    }
}
