namespace HierDiff.Core.Clustering;

/// <summary>
/// Ward linkage with scipy's exact semantics: <c>linkage(pdist(X, 'cosine'), method='ward')</c>. Like scipy, it
/// applies Ward's Lance-Williams update to the distances it is given (here cosine distances, not Euclidean ones).
/// The nearest-neighbour-chain algorithm runs in O(N^2) time on the condensed matrix (N^2/2 doubles); ties are
/// broken as scipy's <c>nn_chain</c> breaks them (lowest index first, the chain's previous element preferred).
/// </summary>
public static class WardLinkage
{
    public static Linkage FromEmbeddings(Embeddings.EmbeddingMatrix embeddings) =>
        FromCondensed(CosineDistances.Condensed(embeddings), embeddings.Rows);

    /// <summary>Clusters n points given their condensed distances (the first n (n - 1) / 2 values of the array, which
    /// is used as scratch space).</summary>
    public static Linkage FromCondensed(double[] distances, int n)
    {
        if (distances.LongLength < (long)n * (n - 1) / 2)
        {
            throw new ArgumentException($"{n} points need {(long)n * (n - 1) / 2} condensed distances, got {distances.LongLength}");
        }

        var merges = new (int X, int Y, double Height)[Math.Max(0, n - 1)];
        var size = new int[n];
        size.AsSpan().Fill(1);

        // rowStart[i] + (j - i - 1) is the pair (i, j), i < j, in the condensed array.
        var rowStart = new long[n];
        for (int i = 0; i < n; i++)
        {
            rowStart[i] = CosineDistances.CondensedIndex(n, i, Math.Min(i + 1, n - 1));
        }

        long Index(int i, int j) => i < j ? rowStart[i] + (j - i - 1) : rowStart[j] + (i - j - 1);

        // The live clusters in ascending order, so scans visit them in scipy's order and skip dead slots.
        int[] alive = Enumerable.Range(0, n).ToArray();
        int aliveCount = n;
        var chain = new int[n];
        int chainLength = 0;

        for (int k = 0; k < n - 1; k++)
        {
            if (chainLength == 0)
            {
                chain[0] = alive[0];
                chainLength = 1;
            }

            // Follow nearest neighbours until two clusters are each other's nearest: they can be merged now.
            int x, y;
            double best;
            while (true)
            {
                x = chain[chainLength - 1];
                y = chainLength > 1 ? chain[chainLength - 2] : -1;
                best = y >= 0 ? distances[Index(x, y)] : double.PositiveInfinity;
                long xRow = rowStart[x] - x - 1;
                for (int a = 0; a < aliveCount; a++)
                {
                    int i = alive[a];
                    if (i == x)
                    {
                        continue;
                    }

                    double d = distances[i < x ? rowStart[i] + (x - i - 1) : xRow + i];
                    if (d < best)
                    {
                        best = d;
                        y = i;
                    }
                }

                if (chainLength > 1 && y == chain[chainLength - 2])
                {
                    break;
                }

                chain[chainLength++] = y;
            }

            chainLength -= 2;
            if (x > y)
            {
                (x, y) = (y, x);
            }

            int nx = size[x];
            int ny = size[y];
            merges[k] = (x, y, best);

            // The merged cluster lives on in slot y; slot x dies.
            size[x] = 0;
            size[y] = nx + ny;
            int dead = Array.BinarySearch(alive, 0, aliveCount, x);
            Array.Copy(alive, dead + 1, alive, dead, aliveCount - dead - 1);
            aliveCount--;
            for (int a = 0; a < aliveCount; a++)
            {
                int i = alive[a];
                if (i == y)
                {
                    continue;
                }

                long iy = Index(i, y);
                distances[iy] = WardUpdate(distances[Index(i, x)], distances[iy], best, nx, ny, size[i]);
            }
        }

        return new Linkage(n, Relabel(merges, n));
    }

    /// <summary>Lance-Williams update for Ward: the distance from cluster i to the union of x and y.</summary>
    private static double WardUpdate(double dXi, double dYi, double dXy, int sizeX, int sizeY, int sizeI)
    {
        double t = 1.0 / (sizeX + sizeY + sizeI);
        return Math.Sqrt(((sizeI + sizeX) * t * dXi * dXi) + ((sizeI + sizeY) * t * dYi * dYi) - (sizeI * t * dXy * dXy));
    }

    /// <summary>
    /// Sorts merges by height (stable, as scipy's mergesort) and renames slots to scipy's cluster ids with a
    /// union-find: the cluster made by sorted row i gets id n + i, and each row lists the smaller id first.
    /// </summary>
    internal static LinkageRow[] Relabel((int X, int Y, double Height)[] merges, int n)
    {
        var sorted = merges.Select((m, order) => (m, order))
            .OrderBy(p => p.m.Height)
            .ThenBy(p => p.order)
            .Select(p => p.m)
            .ToArray();

        var parent = new int[(2 * n) - 1];
        var count = new int[(2 * n) - 1];
        for (int i = 0; i < parent.Length; i++)
        {
            parent[i] = i;
            count[i] = 1;
        }

        int Find(int v)
        {
            int root = v;
            while (parent[root] != root)
            {
                root = parent[root];
            }

            while (parent[v] != root)
            {
                (parent[v], v) = (root, parent[v]);
            }

            return root;
        }

        var rows = new LinkageRow[sorted.Length];
        for (int i = 0; i < sorted.Length; i++)
        {
            int a = Find(sorted[i].X);
            int b = Find(sorted[i].Y);
            int next = n + i;
            parent[a] = next;
            parent[b] = next;
            count[next] = count[a] + count[b];
            rows[i] = new LinkageRow(Math.Min(a, b), Math.Max(a, b), sorted[i].Height, count[next]);
        }

        return rows;
    }
}
