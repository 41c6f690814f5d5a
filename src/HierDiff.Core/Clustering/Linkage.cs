namespace HierDiff.Core.Clustering;

/// <summary>One merge of a hierarchical clustering, as a row of scipy's linkage matrix Z.</summary>
/// <param name="Left">The smaller of the two merged ids (ids &lt; N are prompts, N + i is the cluster of row i).</param>
/// <param name="Right">The larger of the two merged ids.</param>
/// <param name="Height">The merge height (Ward distance).</param>
/// <param name="Count">How many prompts the new cluster holds.</param>
public readonly record struct LinkageRow(int Left, int Right, double Height, int Count);

/// <summary>
/// A dendrogram in scipy's linkage-matrix form, with the tree queries the step plan needs.
/// Node ids: 0..N-1 are prompts (leaves), N + i is the cluster formed by row i, the root is 2N - 2.
/// </summary>
public sealed class Linkage
{
    private readonly LinkageRow[] _rows;
    private readonly double[] _score;
    private readonly int[] _parent;

    public Linkage(int leafCount, LinkageRow[] rows)
    {
        if (leafCount < 1 || rows.Length != leafCount - 1)
        {
            throw new ArgumentException($"a linkage of {leafCount} leaves has {leafCount - 1} rows, not {rows.Length}");
        }

        LeafCount = leafCount;
        _rows = rows;
        _score = new double[NodeCount];
        _parent = new int[NodeCount];
        _parent.AsSpan().Fill(-1);
        for (int i = 0; i < rows.Length; i++)
        {
            int node = leafCount + i;
            LinkageRow row = rows[i];
            if (row.Left >= node || row.Right >= node || _parent[row.Left] >= 0 || _parent[row.Right] >= 0)
            {
                throw new ArgumentException($"linkage row {i} merges ({row.Left}, {row.Right}), which is not a valid tree");
            }

            _parent[row.Left] = node;
            _parent[row.Right] = node;

            // scipy's fcluster(criterion='distance') compares the largest merge height inside a subtree with the
            // threshold; for Ward that is the node's own height, but taking the maximum keeps the two identical.
            _score[node] = Math.Max(row.Height, Math.Max(_score[row.Left], _score[row.Right]));
        }
    }

    public int LeafCount { get; }

    public int NodeCount => (2 * LeafCount) - 1;

    public int Root => NodeCount - 1;

    public IReadOnlyList<LinkageRow> Rows => _rows;

    public bool IsLeaf(int node) => node < LeafCount;

    /// <summary>c^score of the paper: the node's merge height (the largest in its subtree); 0 for a prompt.</summary>
    public double Score(int node) => _score[node];

    /// <summary>The node this one was merged into, or -1 for the root.</summary>
    public int Parent(int node) => _parent[node];

    public LinkageRow Row(int node) => _rows[node - LeafCount];

    /// <summary>The prompts under a node, in ascending order.</summary>
    public int[] Leaves(int node)
    {
        var leaves = new List<int>();
        var stack = new Stack<int>();
        stack.Push(node);
        while (stack.Count > 0)
        {
            int current = stack.Pop();
            if (IsLeaf(current))
            {
                leaves.Add(current);
            }
            else
            {
                stack.Push(Row(current).Left);
                stack.Push(Row(current).Right);
            }
        }

        leaves.Sort();
        return [.. leaves];
    }
}
