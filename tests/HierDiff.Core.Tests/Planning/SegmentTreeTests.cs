using HierDiff.Core.Clustering;
using HierDiff.Core.Embeddings;
using HierDiff.Core.Planning;

namespace HierDiff.Core.Tests.Planning;

public class SegmentTreeTests
{
    private static readonly HierarchicalPlan Plan = HierarchicalPlan.Build(
        WardLinkage.FromEmbeddings(EmbeddingFile.Read(TestPaths.Data("ward", "blobs-200x64.npy"))), 0.5, 20);

    private static SegmentTree<PlanSegment> Tree(IEnumerable<PlanSegment> segments) => new(segments, s => s.Node, s => s.Source, s => s.Steps);

    [Fact]
    public void ANodesChildrenAreTheSegmentsThatContinueItInTheOrderGiven()
    {
        SegmentTree<PlanSegment> tree = Tree(Plan.Segments);
        PlanSegment parent = Plan.Segments.First(s => Plan.Segments.Any(c => c.Source == s.Node));

        Assert.Equal(Plan.Segments.Where(c => c.Source == parent.Node), tree.Children(parent.Node));
        Assert.Equal(Plan.Segments.Where(c => c.Source == -1), tree.Children(-1));
    }

    [Fact]
    public void BelowTheRootsIsTheWholePlanParentsBeforeChildren()
    {
        IReadOnlyList<PlanSegment> below = Tree(Plan.Segments).Below([-1]);

        Assert.Equal(Plan.Segments.Select(s => s.Node).Order(), below.Select(s => s.Node).Order());
        var seen = new HashSet<int> { -1 };
        Assert.All(below, s => Assert.True(seen.Contains(s.Source) && seen.Add(s.Node), $"node {s.Node} before its source {s.Source}"));
    }

    [Fact]
    public void BelowANodeAreItsDescendantsOnlyAndTheirCallsAreCallsBelow()
    {
        SegmentTree<PlanSegment> tree = Tree(Plan.Segments);
        foreach (PlanSegment segment in Plan.Segments)
        {
            IReadOnlyList<PlanSegment> below = tree.Below([segment.Node]);
            var members = segment.Members.ToHashSet();
            Assert.DoesNotContain(segment, below);
            Assert.All(below, s => Assert.Subset(members, s.Members.ToHashSet()));
            Assert.Equal(below.Sum(s => (long)s.Steps), tree.CallsBelow(segment.Node));
        }

        Assert.Equal(Plan.DenoiserCalls, tree.CallsBelow(-1));
    }

    [Fact]
    public void APartOfAPlanIsATreeOfItsOwn()
    {
        PlanSegment top = Plan.Segments.First(s => s.Start > 0 && Plan.Segments.Any(c => c.Source == s.Node));
        IReadOnlyList<PlanSegment> part = Tree(Plan.Segments).Below([top.Node]);

        Assert.Equal(part, Tree(part).Below([top.Node]));
        Assert.Empty(Tree(part).Children(-1));
        Assert.Empty(Tree(part).Below([top.Source]));
    }
}
