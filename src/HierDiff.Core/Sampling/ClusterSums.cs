using HierDiff.Core.Clustering;

namespace HierDiff.Core.Sampling;

/// <summary>
/// The conditioning sum of every cluster in a subtree of the prompt tree, from its prompts' vectors, holding only a
/// few sums at a time:
/// <code>
///   for node in post-order, each node's child that needs the deeper stack first:
///     a prompt, or a node summed by another activity:  push its sum
///     otherwise:                                       push pop() + pop()   # exact: the grouping cannot matter
///     visit(node, the sum on top)
/// </code>
/// Going into the deeper-stacked child first keeps at most the subtree's Strahler number of sums alive: at most
/// log2(n) + 1 for n prompts, however lopsided the tree (a chain of any length needs two).
/// </summary>
public static class ClusterSums
{
    /// <summary>How a tree's conditioning is split between activities: the roots of its largest subtrees of at most
    /// <paramref name="maxPrompts"/> prompts, each summed by an activity of its own, in parallel; then one more sums
    /// what is above them, taking their sums. Subtrees of less than an eighth of that are left to it, so a lopsided
    /// tree does not become thousands of tiny activities. A tree of at most maxPrompts prompts is one part.</summary>
    public static int[] Parts(Linkage tree, int maxPrompts)
    {
        ArgumentNullException.ThrowIfNull(tree);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPrompts, 1);
        int Count(int node) => tree.IsLeaf(node) ? 1 : tree.Row(node).Count;
        int smallest = Math.Max(2, maxPrompts / 8);
        var parts = new List<int>();
        var stack = new Stack<int>([tree.Root]);
        while (stack.Count > 0)
        {
            int node = stack.Pop();
            if (Count(node) > maxPrompts)
            {
                stack.Push(tree.Row(node).Left);
                stack.Push(tree.Row(node).Right);
            }
            else if (Count(node) >= smallest || node == tree.Root)
            {
                parts.Add(node);
            }
        }

        parts.Sort();
        return [.. parts];
    }

    /// <summary>The subtree of <paramref name="root"/> in the order <see cref="WalkAsync"/> takes it. Nodes in
    /// <paramref name="stops"/> stand for their subtrees (their sums come from elsewhere).</summary>
    public static int[] PostOrder(Linkage tree, int root, IReadOnlySet<int> stops)
    {
        ArgumentNullException.ThrowIfNull(tree);
        bool Whole(int node) => tree.IsLeaf(node) || stops.Contains(node);

        // Strahler numbers bottom-up: children have lower ids than their parents in a linkage.
        var strahler = new Dictionary<int, int>();
        foreach (int node in PostOrder(tree, root, Whole, (left, right) => (left, right)))
        {
            if (Whole(node))
            {
                strahler[node] = 1;
            }
            else
            {
                (int l, int r) = (strahler[tree.Row(node).Left], strahler[tree.Row(node).Right]);
                strahler[node] = l == r ? l + 1 : Math.Max(l, r);
            }
        }

        return [.. PostOrder(tree, root, Whole, (left, right) => strahler[right] > strahler[left] ? (right, left) : (left, right))];
    }

    /// <summary>Walks <paramref name="order"/> (from <see cref="PostOrder"/>): <paramref name="load"/> fills a cleared
    /// sum for each prompt or stop node, <paramref name="visit"/> sees every node's sum (and must not keep it).
    /// Returns the root's sum.</summary>
    public static async Task<ExactSum> WalkAsync(
        Linkage tree, int[] order, IReadOnlySet<int> stops, int length, Func<int, ExactSum, ValueTask> load, Func<int, ExactSum, ValueTask> visit)
    {
        ArgumentNullException.ThrowIfNull(order);
        ArgumentNullException.ThrowIfNull(load);
        ArgumentNullException.ThrowIfNull(visit);
        var sums = new Stack<ExactSum>();
        var spare = new Stack<ExactSum>();
        foreach (int node in order)
        {
            if (tree.IsLeaf(node) || stops.Contains(node))
            {
                ExactSum sum = spare.Count > 0 ? spare.Pop() : new ExactSum(length);
                sum.Clear();
                await load(node, sum);
                sums.Push(sum);
            }
            else
            {
                ExactSum second = sums.Pop();
                sums.Peek().Add(second);
                spare.Push(second);
            }

            await visit(node, sums.Peek());
        }

        return sums.Count == 1 ? sums.Pop() : throw new ArgumentException("not the post-order of one subtree", nameof(order));
    }

    /// <summary>Children before parents; <paramref name="firstChild"/> says which of a node's two goes first.</summary>
    private static List<int> PostOrder(Linkage tree, int root, Func<int, bool> whole, Func<int, int, (int First, int Second)> firstChild)
    {
        var order = new List<int>();
        var stack = new Stack<(int Node, bool Expanded)>();
        stack.Push((root, false));
        while (stack.Count > 0)
        {
            (int node, bool expanded) = stack.Pop();
            if (expanded || whole(node))
            {
                order.Add(node);
                continue;
            }

            (int first, int second) = firstChild(tree.Row(node).Left, tree.Row(node).Right);
            stack.Push((node, true));
            stack.Push((second, false));
            stack.Push((first, false));
        }

        return order;
    }
}
