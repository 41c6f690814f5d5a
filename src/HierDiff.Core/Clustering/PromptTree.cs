using HierDiff.Core.Embeddings;

namespace HierDiff.Core.Clustering;

/// <summary>How a run's tree was built: "exact" (scipy's Ward tree of all prompts) or "sharded" (exact trees of
/// Shards shards of SmallestShard to LargestShard prompts under a top tree), for a MaxExact, and how many top merges
/// were lifted to keep heights rising towards the root.</summary>
public sealed record TreeSummary(string Kind, int MaxExact, int Shards, int SmallestShard, int LargestShard, int LiftedMerges);

/// <summary>One shard of a sharded tree: its prompts (ascending), scipy's Ward tree of them (local node ids: the
/// shard's r-th prompt is leaf r), and their moments, which join it to the others.</summary>
public sealed record ShardTree(int[] Members, Linkage Tree, ClusterMoments Moments);

/// <summary>
/// The tree a run plans on. Up to <see cref="MaxExact"/> prompts it is scipy's Ward tree of them, exactly. Above
/// that the full distance matrix (N^2 / 2 doubles: 3.2 GB at 20,000 prompts, 4 TB at a million) cannot be held, so:
/// <code>
///   shards = BalancedShards(embeddings, capacity: MaxExact)   # seeded k-means++, at most MaxExact prompts each
///   for shard in shards: tree[shard] = WardLinkage(shard)      # scipy's exact tree within each shard
///   top = Ward over the shard roots, heights from ClusterMoments # the height scipy would give each union
///   tree = the shards' trees under top
/// </code>
/// Only one shard's distances are held at a time; the pipeline builds the shards in parallel activities
/// (<see cref="Shards"/>, <see cref="BuildShard"/>, <see cref="Join"/>: the same steps as <see cref="Build"/>).
/// A top merge lower than a shard root beneath it (a shard that cut a natural group) is lifted to that root's
/// height, so heights never fall towards the root; <see cref="LiftedMerges"/> counts them. Same rows and MaxExact,
/// same tree, on any machine.
/// </summary>
public sealed record PromptTree(Linkage Tree, int MaxExact, IReadOnlyList<int> ShardSizes, int LiftedMerges)
{
    /// <summary>Exact Ward up to this many prompts by default: its distances take 400 MB and about 5 s on 2 cores
    /// (README, "Planning a million prompts").</summary>
    public const int DefaultMaxExact = 10_000;

    /// <summary>The most --max-exact allows: 30,000 prompts' distances take 3.6 GB.</summary>
    public const int MaxMaxExact = 30_000;

    /// <summary>Whether a tree of this many prompts is built from shards.</summary>
    public static bool IsShardedAt(int prompts, int maxExact) => prompts > maxExact;

    /// <summary>Whether the prompts were split into shards (more than MaxExact of them).</summary>
    public bool Sharded => ShardSizes.Count > 1;

    /// <summary>Each shard's root in <see cref="Tree"/>, in shard order (none for an exact tree): the shard is every
    /// prompt below it, and the shards' subtrees run apart once the top tree above them has split.</summary>
    public IReadOnlyList<int> ShardRoots { get; init; } = [];

    /// <summary>What plan.json and manifest.json record of how the tree was built.</summary>
    public TreeSummary Summary() => new(Sharded ? "sharded" : "exact", MaxExact, ShardSizes.Count, ShardSizes.Min(), ShardSizes.Max(), LiftedMerges);

    public static PromptTree Build(EmbeddingMatrix embeddings, int maxExact = DefaultMaxExact)
    {
        ArgumentNullException.ThrowIfNull(embeddings);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxExact, 2);
        int n = embeddings.Rows;
        if (!IsShardedAt(n, maxExact))
        {
            return new PromptTree(WardLinkage.FromEmbeddings(embeddings), maxExact, [n], 0);
        }

        int[][] shards = Shards(embeddings, maxExact);

        // One distance buffer, of the largest shard's size, serves every shard in turn.
        int largest = shards.Max(m => m.Length);
        var distances = new double[(long)largest * (largest - 1) / 2];
        return Join(n, [.. shards.Select(members => BuildShard(members, Rows(embeddings, members), distances))], maxExact);
    }

    /// <summary>Which prompts go to which shard (<see cref="BalancedShards"/>), each shard's in ascending order.</summary>
    public static int[][] Shards(EmbeddingMatrix embeddings, int maxExact)
    {
        ArgumentNullException.ThrowIfNull(embeddings);
        (int[] shardOf, int count) = BalancedShards.Assign(embeddings, maxExact);
        var members = new List<int>[count];
        for (int s = 0; s < count; s++)
        {
            members[s] = [];
        }

        for (int i = 0; i < shardOf.Length; i++)
        {
            members[shardOf[i]].Add(i);
        }

        return [.. members.Select(m => m.ToArray())];
    }

    /// <summary>One shard's exact tree and moments, from its rows: row r of <paramref name="rows"/> is prompt
    /// <paramref name="members"/>[r]. <paramref name="distances"/>: a buffer to reuse (null: a new one).</summary>
    public static ShardTree BuildShard(int[] members, EmbeddingMatrix rows, double[]? distances = null)
    {
        ArgumentNullException.ThrowIfNull(members);
        ArgumentNullException.ThrowIfNull(rows);
        Linkage local = WardLinkage.FromCondensed(CosineDistances.Condensed(rows, distances), members.Length);
        ClusterMoments moments = ClusterMoments.Empty(rows.Columns);
        for (int r = 0; r < rows.Rows; r++)
        {
            moments.Add(rows.Row(r));
        }

        return new ShardTree(members, local, moments);
    }

    /// <summary>The shards' trees, in shard order, under one top tree: the tree of <paramref name="n"/> prompts.</summary>
    public static PromptTree Join(int n, IReadOnlyList<ShardTree> shards, int maxExact)
    {
        ArgumentNullException.ThrowIfNull(shards);
        int count = shards.Count;

        // Merges in creation order, each naming its two clusters by a prompt in each (as WardLinkage's slots do).
        var merges = new List<(int X, int Y, double Height)>(n - 1);
        var tops = new List<(ClusterMoments Moments, int Representative, double Height)>(count);
        foreach ((int[] shard, Linkage local, ClusterMoments moments) in shards)
        {
            var representative = new int[local.NodeCount];
            for (int i = 0; i < shard.Length; i++)
            {
                representative[i] = shard[i];
            }

            for (int r = 0; r < local.Rows.Count; r++)
            {
                LinkageRow row = local.Rows[r];
                representative[shard.Length + r] = representative[row.Left];
                merges.Add((representative[row.Left], representative[row.Right], row.Height));
            }

            tops.Add((moments, shard[0], local.Score(local.Root)));
        }

        // Ward over the shard roots. Each round merges the closest pair; only the union's distances are new.
        var distance = new double[count, count];
        for (int i = 0; i < count; i++)
        {
            for (int j = i + 1; j < count; j++)
            {
                distance[i, j] = distance[j, i] = ClusterMoments.WardDistance(tops[i].Moments, tops[j].Moments);
            }
        }

        List<int> alive = [.. Enumerable.Range(0, count)];
        int lifted = 0;
        while (alive.Count > 1)
        {
            (int a, int b, double closest) = (alive[0], alive[1], double.PositiveInfinity);
            for (int x = 0; x < alive.Count; x++)
            {
                for (int y = x + 1; y < alive.Count; y++)
                {
                    if (distance[alive[x], alive[y]] < closest)
                    {
                        (a, b, closest) = (alive[x], alive[y], distance[alive[x], alive[y]]);
                    }
                }
            }

            double height = Math.Max(closest, Math.Max(tops[a].Height, tops[b].Height));
            if (height > closest)
            {
                lifted++;
            }

            merges.Add((tops[a].Representative, tops[b].Representative, height));
            tops[a] = (ClusterMoments.Union(tops[a].Moments, tops[b].Moments), tops[a].Representative, height);
            alive.Remove(b);
            foreach (int other in alive.Where(o => o != a))
            {
                // The lower slot first, as in the first pass: the rounding then does not depend on the order.
                (int low, int high) = other < a ? (other, a) : (a, other);
                distance[low, high] = distance[high, low] = ClusterMoments.WardDistance(tops[low].Moments, tops[high].Moments);
            }
        }

        var tree = new Linkage(n, WardLinkage.Relabel([.. merges], n));
        return new PromptTree(tree, maxExact, [.. shards.Select(m => m.Members.Length)], lifted)
        {
            ShardRoots = [.. shards.Select(m => SubtreeOf(tree, m.Members[0], m.Members.Length))],
        };
    }

    /// <summary>The node of <paramref name="count"/> prompts above prompt <paramref name="leaf"/>: a shard is one
    /// subtree, so walking up from any of its prompts reaches its root.</summary>
    private static int SubtreeOf(Linkage tree, int leaf, int count)
    {
        int node = leaf;
        while ((tree.IsLeaf(node) ? 1 : tree.Row(node).Count) < count)
        {
            node = tree.Parent(node);
        }

        return node;
    }

    private static EmbeddingMatrix Rows(EmbeddingMatrix embeddings, int[] rows)
    {
        int d = embeddings.Columns;
        var data = new double[rows.Length * d];
        for (int r = 0; r < rows.Length; r++)
        {
            embeddings.Row(rows[r]).CopyTo(data.AsSpan(r * d, d));
        }

        return new EmbeddingMatrix(rows.Length, d, data, "a shard of the embeddings");
    }
}
