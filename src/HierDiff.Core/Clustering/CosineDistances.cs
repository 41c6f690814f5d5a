using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
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
    private const int RowsPerPass = 4;

    /// <param name="into">Where to write them (its first N (N - 1) / 2 values), so that one buffer serves many
    /// matrices in turn; null: a new array of exactly that length.</param>
    public static double[] Condensed(EmbeddingMatrix x, double[]? into = null)
    {
        int n = x.Rows;
        int d = x.Columns;
        var norms = new double[n];
        for (int i = 0; i < n; i++)
        {
            norms[i] = Math.Sqrt(ScipyDot(x.Row(i), x.Row(i)));
        }

        long count = (long)n * (n - 1) / 2;
        if (into is not null && into.LongLength < count)
        {
            throw new ArgumentException($"{n} rows need {count} distances; the buffer holds {into.LongLength}", nameof(into));
        }

        double[] distances = into ?? new double[count];
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
            Span<double> dots = stackalloc double[RowsPerPass * width];
            int firstRow = tile * RowsPerTile;
            int endRow = Math.Min(n, firstRow + RowsPerTile);
            foreach (Panel panel in panels.AsSpan((firstRow + 1) / width))
            {
                int lastColumn = panel.FirstRow + panel.Rows - 1;
                for (int i = firstRow; i < endRow && i < lastColumn; i += RowsPerPass)
                {
                    // Rows past the end are stand-ins (the last row again) whose results are not written.
                    panel.DotFourRows(
                        data.AsSpan(i * d, d),
                        data.AsSpan(Math.Min(i + 1, n - 1) * d, d),
                        data.AsSpan(Math.Min(i + 2, n - 1) * d, d),
                        data.AsSpan(Math.Min(i + 3, n - 1) * d, d),
                        dots);
                    for (int r = 0; r < RowsPerPass && i + r < Math.Min(endRow, lastColumn); r++)
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

        /// <summary>Dot products of four rows with every panel row, each summed in ScipyDot's order: one SIMD lane
        /// per panel row, two accumulators (even and odd coordinates) per lane, 16 accumulators in registers.</summary>
        public void DotFourRows(ReadOnlySpan<double> u0, ReadOnlySpan<double> u1, ReadOnlySpan<double> u2, ReadOnlySpan<double> u3, Span<double> result)
        {
            nuint lanes = (nuint)Vector<double>.Count;
            nuint width = (nuint)_width;
            int dimensions = _dimensions;
            ref double p = ref MemoryMarshal.GetArrayDataReference(_values);
            ref double a = ref MemoryMarshal.GetReference(u0);
            ref double b = ref MemoryMarshal.GetReference(u1);
            ref double c = ref MemoryMarshal.GetReference(u2);
            ref double e = ref MemoryMarshal.GetReference(u3);
            Vector<double> ea0 = default, ea1 = default, eb0 = default, eb1 = default, ec0 = default, ec1 = default, ee0 = default, ee1 = default;
            Vector<double> oa0 = default, oa1 = default, ob0 = default, ob1 = default, oc0 = default, oc1 = default, oe0 = default, oe1 = default;
            int k = 0;
            for (; k + 1 < dimensions; k += 2)
            {
                nuint even = (nuint)k * width;
                nuint odd = even + width;
                Vector<double> pe0 = Vector.LoadUnsafe(ref p, even);
                Vector<double> pe1 = Vector.LoadUnsafe(ref p, even + lanes);
                Vector<double> po0 = Vector.LoadUnsafe(ref p, odd);
                Vector<double> po1 = Vector.LoadUnsafe(ref p, odd + lanes);
                var x = new Vector<double>(Unsafe.Add(ref a, k));
                var y = new Vector<double>(Unsafe.Add(ref a, k + 1));
                ea0 += x * pe0;
                ea1 += x * pe1;
                oa0 += y * po0;
                oa1 += y * po1;
                x = new Vector<double>(Unsafe.Add(ref b, k));
                y = new Vector<double>(Unsafe.Add(ref b, k + 1));
                eb0 += x * pe0;
                eb1 += x * pe1;
                ob0 += y * po0;
                ob1 += y * po1;
                x = new Vector<double>(Unsafe.Add(ref c, k));
                y = new Vector<double>(Unsafe.Add(ref c, k + 1));
                ec0 += x * pe0;
                ec1 += x * pe1;
                oc0 += y * po0;
                oc1 += y * po1;
                x = new Vector<double>(Unsafe.Add(ref e, k));
                y = new Vector<double>(Unsafe.Add(ref e, k + 1));
                ee0 += x * pe0;
                ee1 += x * pe1;
                oe0 += y * po0;
                oe1 += y * po1;
            }

            Span<Vector<double>> sums = [ea0 + oa0, ea1 + oa1, eb0 + ob0, eb1 + ob1, ec0 + oc0, ec1 + oc1, ee0 + oe0, ee1 + oe1];
            if (k < dimensions)
            {
                // The odd coordinate left over, added last as scipy adds it.
                nuint last = (nuint)k * width;
                Vector<double> t0 = Vector.LoadUnsafe(ref p, last);
                Vector<double> t1 = Vector.LoadUnsafe(ref p, last + lanes);
                ReadOnlySpan<double> tails = [u0[k], u1[k], u2[k], u3[k]];
                for (int r = 0; r < RowsPerPass; r++)
                {
                    sums[2 * r] += new Vector<double>(tails[r]) * t0;
                    sums[(2 * r) + 1] += new Vector<double>(tails[r]) * t1;
                }
            }

            for (int v = 0; v < sums.Length; v++)
            {
                sums[v].CopyTo(result[(v * (int)lanes)..]);
            }
        }
    }
}
