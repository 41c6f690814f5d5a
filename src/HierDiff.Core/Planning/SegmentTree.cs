namespace HierDiff.Core.Planning;

/// <summary>
/// A set of plan segments as the tree their hand-offs make: each segment is a child of the node whose trajectory it
/// continues (-1: the roots, which start from noise). Works on any segment record (the plan's, a plan file's, an
/// orchestration message's) through the three facts the tree needs of it.
/// </summary>
public sealed class SegmentTree<T>
{
    private readonly ILookup<int, T> _children;
    private readonly Func<T, int> _node;
    private readonly Func<T, int> _steps;
    private readonly Dictionary<int, long> _callsBelow = [];

    /// <param name="segments">The segments; children keep the order they have here.</param>
    /// <param name="node">A segment's tree node.</param>
    /// <param name="source">The node whose trajectory it continues (-1: none).</param>
    /// <param name="steps">How many steps it denoises (its denoiser calls).</param>
    public SegmentTree(IEnumerable<T> segments, Func<T, int> node, Func<T, int> source, Func<T, int> steps)
    {
        _children = segments.ToLookup(source);
        _node = node;
        _steps = steps;
    }

    /// <summary>The segments that continue <paramref name="node"/>'s trajectory (-1: the roots).</summary>
    public IEnumerable<T> Children(int node) => _children[node];

    /// <summary>Every segment that descends from the nodes (not the nodes' own), parents before children.</summary>
    public IReadOnlyList<T> Below(IEnumerable<int> nodes)
    {
        var below = new List<T>();
        var queue = new Queue<int>(nodes);
        while (queue.Count > 0)
        {
            foreach (T child in _children[queue.Dequeue()])
            {
                below.Add(child);
                queue.Enqueue(_node(child));
            }
        }

        return below;
    }

    /// <summary>The denoiser calls of every segment below <paramref name="node"/>.</summary>
    public long CallsBelow(int node)
    {
        if (!_callsBelow.TryGetValue(node, out long calls))
        {
            // Recursion is as deep as a chain of segments, at most one per step.
            calls = _children[node].Sum(c => _steps(c) + CallsBelow(_node(c)));
            _callsBelow[node] = calls;
        }

        return calls;
    }
}
