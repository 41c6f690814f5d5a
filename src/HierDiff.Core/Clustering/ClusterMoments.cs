namespace HierDiff.Core.Clustering;

/// <summary>
/// A cluster of unit vectors by its moments: the count n, the sum s of its vectors and the sum M of their outer
/// products. They give scipy's Ward merge height between two clusters without their points, for cosine distances
/// d(a, b) = 1 - a.b: Ward's Lance-Williams update, applied to any dissimilarity, computes (Batagelj's generalised
/// Ward)
/// <code>
///   D(A, B)^2 = 2 nA nB / (nA + nB) x (S_AB / (nA nB) - S_AA / (2 nA^2) - S_BB / (2 nB^2)),   S_XY = sum of d(x, y)^2
/// </code>
/// over ordered pairs, and for cosine distances S_XY = nX nY - 2 sX.sY + &lt;MX, MY&gt; (the Frobenius product). So
/// merging two clusters of any size costs O(dimensions^2), which is what joins the shards' trees under one top tree.
/// </summary>
public sealed class ClusterMoments
{
    private ClusterMoments(int dimensions, long count, double[] sum, double[] outer)
    {
        Dimensions = dimensions;
        Count = count;
        Sum = sum;
        Outer = outer;
    }

    public int Dimensions { get; }

    public long Count { get; private set; }

    /// <summary>s: the sum of the unit vectors.</summary>
    public double[] Sum { get; }

    /// <summary>M: the sum of their outer products, row-major (dimensions x dimensions).</summary>
    public double[] Outer { get; }

    /// <summary>Moments stored by another activity: the count, s and M as <see cref="Sum"/> and <see cref="Outer"/> hold them.</summary>
    public static ClusterMoments Of(long count, double[] sum, double[] outer)
    {
        ArgumentNullException.ThrowIfNull(sum);
        ArgumentNullException.ThrowIfNull(outer);
        return outer.Length == (long)sum.Length * sum.Length
            ? new ClusterMoments(sum.Length, count, sum, outer)
            : throw new ArgumentException($"moments of {sum.Length} dimensions have {sum.Length * sum.Length} outer-product sums, not {outer.Length}", nameof(outer));
    }

    public static ClusterMoments Empty(int dimensions) => new(dimensions, 0, new double[dimensions], new double[dimensions * dimensions]);

    /// <summary>Adds one vector, normalised to unit length here.</summary>
    public void Add(ReadOnlySpan<double> vector)
    {
        double norm = 0;
        foreach (double v in vector)
        {
            norm += v * v;
        }

        norm = Math.Sqrt(norm);
        int d = Dimensions;
        Span<double> unit = d <= 512 ? stackalloc double[d] : new double[d];
        for (int i = 0; i < d; i++)
        {
            unit[i] = vector[i] / norm;
            Sum[i] += unit[i];
        }

        for (int i = 0; i < d; i++)
        {
            double ui = unit[i];
            Span<double> row = Outer.AsSpan(i * d, d);
            for (int j = 0; j < d; j++)
            {
                row[j] += ui * unit[j];
            }
        }

        Count++;
    }

    /// <summary>The moments of the union of two disjoint clusters.</summary>
    public static ClusterMoments Union(ClusterMoments a, ClusterMoments b)
    {
        var sum = new double[a.Dimensions];
        var outer = new double[a.Outer.Length];
        for (int i = 0; i < sum.Length; i++)
        {
            sum[i] = a.Sum[i] + b.Sum[i];
        }

        for (int i = 0; i < outer.Length; i++)
        {
            outer[i] = a.Outer[i] + b.Outer[i];
        }

        return new ClusterMoments(a.Dimensions, a.Count + b.Count, sum, outer);
    }

    /// <summary>scipy's Ward merge height of the two clusters (see the class summary).</summary>
    public static double WardDistance(ClusterMoments a, ClusterMoments b)
    {
        double na = a.Count, nb = b.Count;
        double squared = 2 * na * nb / (na + nb) * ((SquaredSum(a, b) / (na * nb)) - (SquaredSum(a, a) / (2 * na * na)) - (SquaredSum(b, b) / (2 * nb * nb)));
        return Math.Sqrt(Math.Max(squared, 0));
    }

    /// <summary>S_XY: the sum over ordered pairs of d(x, y)^2.</summary>
    private static double SquaredSum(ClusterMoments x, ClusterMoments y)
    {
        double dot = 0, frobenius = 0;
        for (int i = 0; i < x.Sum.Length; i++)
        {
            dot += x.Sum[i] * y.Sum[i];
        }

        for (int i = 0; i < x.Outer.Length; i++)
        {
            frobenius += x.Outer[i] * y.Outer[i];
        }

        return ((double)x.Count * y.Count) - (2 * dot) + frobenius;
    }
}
