using HierDiff.Pipeline.Activities;

namespace HierDiff.Report;

/// <summary>
/// How a large run's tree is cut into pages: the nodes of more than a page's prompts stay on report.html (the top
/// of the tree); the clusters (and lone prompts) right below them go, in tree order, onto pages of at most that
/// many prompts each.
/// </summary>
public sealed class PageLayout
{
    private readonly Dictionary<int, int> _pageOf = [];

    public PageLayout(RunTreeFile tree, int pagePrompts)
    {
        var pages = new List<List<int>>();
        int onPage = 0;
        var stack = new Stack<int>([tree.Root]);
        while (stack.Count > 0)
        {
            int node = stack.Pop();
            int count = tree.Count(node);
            if (count > pagePrompts)
            {
                TopNodes.Add(node);
                TreeMerge merge = tree.Tree[node - tree.Prompts];
                stack.Push(merge.Right);
                stack.Push(merge.Left);
                continue;
            }

            if (pages.Count == 0 || onPage + count > pagePrompts)
            {
                pages.Add([]);
                onPage = 0;
            }

            pages[^1].Add(node);
            onPage += count;
            _pageOf[node] = pages.Count - 1;
        }

        Pages = pages;
    }

    /// <summary>Each page's clusters, in tree order.</summary>
    public IReadOnlyList<IReadOnlyList<int>> Pages { get; }

    /// <summary>The nodes report.html itself shows.</summary>
    public List<int> TopNodes { get; } = [];

    /// <summary>The page a cluster is shown on, where it heads one of a page's subtrees.</summary>
    public int? PageOf(int node) => _pageOf.TryGetValue(node, out int page) ? page : null;
}
