using HierDiff.Core.Embeddings;

namespace HierDiff.Core.Clustering;

/// <summary>
/// Splits a prompt set too large for one exact Ward tree into shards of at most a given size, by direction (the
/// rows normalised to unit length, as cosine distance sees them), the same way on every machine:
/// <list type="number">
/// <item>k = ceil(N / (0.8 x capacity)) shards, so that groups of similar prompts have room to stay together;</item>
/// <item>k-means++ seeding and 10 Lloyd iterations on a seeded sample of at most 50,000 rows;</item>
/// <item>every row to a centre, the rows that lose most by not getting their nearest centre first (the gap between
/// their nearest and second-nearest), each to the nearest centre with room left.</item>
/// </list>
/// Single-threaded and seeded, so the shards depend only on the rows and the capacity.
/// </summary>
public static class BalancedShards
{
    public const double Fill = 0.8;
    public const int SampleSize = 50_000;
    public const int Iterations = 10;
    private const int Seed = 20_251_201;

    /// <summary>The shard of each row (0..k-1, numbered by their lowest row; none is empty) and the shard count.</summary>
    public static (int[] Shard, int Count) Assign(EmbeddingMatrix x, int capacity)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        int n = x.Rows, d = x.Columns;
        int k = (int)Math.Ceiling(n / (Fill * capacity));
        var inverseNorm = new double[n];
        for (int i = 0; i < n; i++)
        {
            inverseNorm[i] = 1 / Math.Sqrt(Dot(x.Row(i), x.Row(i)));
        }

        var random = new Random(Seed);
        int[] sample = Sample(n, Math.Min(n, SampleSize), random);
        double[] centres = Seeding(x, inverseNorm, sample, k, random);
        for (int iteration = 0; iteration < Iterations; iteration++)
        {
            centres = Lloyd(x, inverseNorm, sample, centres, k);
        }

        return Capacitated(x, inverseNorm, centres, k, capacity);
    }

    private static int[] Sample(int n, int size, Random random)
    {
        int[] all = Enumerable.Range(0, n).ToArray();
        for (int i = 0; i < size; i++)
        {
            int j = random.Next(i, n);
            (all[i], all[j]) = (all[j], all[i]);
        }

        return [.. all.Take(size).Order()];
    }

    /// <summary>k-means++: the first centre a sampled row, each next one drawn with probability proportional to the
    /// squared distance from the nearest centre so far.</summary>
    private static double[] Seeding(EmbeddingMatrix x, double[] inverseNorm, int[] sample, int k, Random random)
    {
        int d = x.Columns;
        var centres = new double[k * d];
        var nearest = new double[sample.Length];
        nearest.AsSpan().Fill(double.PositiveInfinity);
        int chosen = sample[random.Next(sample.Length)];
        for (int c = 0; c < k; c++)
        {
            Span<double> centre = centres.AsSpan(c * d, d);
            ReadOnlySpan<double> row = x.Row(chosen);
            for (int j = 0; j < d; j++)
            {
                centre[j] = row[j] * inverseNorm[chosen];
            }

            double total = 0;
            for (int s = 0; s < sample.Length; s++)
            {
                nearest[s] = Math.Min(nearest[s], SquaredDistance(x, inverseNorm, sample[s], centre));
                total += nearest[s];
            }

            if (c == k - 1)
            {
                break;
            }

            double target = random.NextDouble() * total;
            int pick = sample.Length - 1;
            for (int s = 0; s < sample.Length; s++)
            {
                target -= nearest[s];
                if (target < 0)
                {
                    pick = s;
                    break;
                }
            }

            chosen = sample[pick];
        }

        return centres;
    }

    private static double[] Lloyd(EmbeddingMatrix x, double[] inverseNorm, int[] sample, double[] centres, int k)
    {
        int d = x.Columns;
        var sums = new double[k * d];
        var counts = new int[k];
        foreach (int i in sample)
        {
            int c = Nearest(x, inverseNorm, i, centres, k, null);
            counts[c]++;
            ReadOnlySpan<double> row = x.Row(i);
            Span<double> sum = sums.AsSpan(c * d, d);
            for (int j = 0; j < d; j++)
            {
                sum[j] += row[j] * inverseNorm[i];
            }
        }

        for (int c = 0; c < k; c++)
        {
            Span<double> sum = sums.AsSpan(c * d, d);
            if (counts[c] == 0)
            {
                // A centre nothing chose keeps its place.
                centres.AsSpan(c * d, d).CopyTo(sum);
                continue;
            }

            for (int j = 0; j < d; j++)
            {
                sum[j] /= counts[c];
            }
        }

        return sums;
    }

    private static (int[] Shard, int Count) Capacitated(EmbeddingMatrix x, double[] inverseNorm, double[] centres, int k, int capacity)
    {
        int n = x.Rows;
        var regret = new double[n];
        for (int i = 0; i < n; i++)
        {
            double best = double.PositiveInfinity, second = double.PositiveInfinity;
            for (int c = 0; c < k; c++)
            {
                double s = SquaredDistance(x, inverseNorm, i, centres.AsSpan(c * x.Columns, x.Columns));
                if (s < best)
                {
                    (best, second) = (s, best);
                }
                else if (s < second)
                {
                    second = s;
                }
            }

            regret[i] = k == 1 ? 0 : second - best;
        }

        int[] order = Enumerable.Range(0, n).ToArray();
        Array.Sort(order, (a, b) => regret[a] != regret[b] ? regret[b].CompareTo(regret[a]) : a.CompareTo(b));
        var room = new int[k];
        room.AsSpan().Fill(capacity);
        var centre = new int[n];
        foreach (int i in order)
        {
            int c = Nearest(x, inverseNorm, i, centres, k, room);
            centre[i] = c;
            room[c]--;
        }

        // Number the shards by their lowest row, so the numbering does not depend on how the centres were found.
        var number = new int[k];
        number.AsSpan().Fill(-1);
        int count = 0;
        var shard = new int[n];
        for (int i = 0; i < n; i++)
        {
            if (number[centre[i]] < 0)
            {
                number[centre[i]] = count++;
            }

            shard[i] = number[centre[i]];
        }

        return (shard, count);
    }

    /// <summary>The nearest centre (lowest index on ties), among those with room where <paramref name="room"/> is given.</summary>
    private static int Nearest(EmbeddingMatrix x, double[] inverseNorm, int row, double[] centres, int k, int[]? room)
    {
        int d = x.Columns, best = -1;
        double bestDistance = double.PositiveInfinity;
        for (int c = 0; c < k; c++)
        {
            if (room is not null && room[c] == 0)
            {
                continue;
            }

            double s = SquaredDistance(x, inverseNorm, row, centres.AsSpan(c * d, d));
            if (best < 0 || s < bestDistance)
            {
                best = c;
                bestDistance = s;
            }
        }

        return best;
    }

    /// <summary>|u - c|^2 for the row's unit vector u.</summary>
    private static double SquaredDistance(EmbeddingMatrix x, double[] inverseNorm, int row, ReadOnlySpan<double> centre)
    {
        ReadOnlySpan<double> r = x.Row(row);
        double scale = inverseNorm[row], sum = 0;
        for (int j = 0; j < r.Length; j++)
        {
            double diff = (r[j] * scale) - centre[j];
            sum += diff * diff;
        }

        return sum;
    }

    private static double Dot(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++)
        {
            sum += a[i] * b[i];
        }

        return sum;
    }
}
