using HierDiff.Core.Clustering;
using HierDiff.Core.Planning;

namespace HierDiff.Pipeline.Activities;

/// <summary>
/// A sharded run's plan cut into the parts its histories run: the top tree's segments (shared by several shards)
/// and each shard's. A segment activity, a schedule or a shard's finish reads its part only, so what a worker holds
/// follows a shard's prompts, not the run's. A shard is a subtree: a segment is a shard's when its prompts are all
/// that shard's, and a node above a shard holds all of the shard's prompts and more.
/// </summary>
public static class PlanScopes
{
    /// <summary>The top tree's part plan (scope -1), then each shard's, from the whole plan of a sharded run.</summary>
    public static IEnumerable<RunPlanFile> Split(RunPlanFile plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        Linkage tree = plan.Linkage() ?? throw new InvalidOperationException($"run {plan.RunId} has no tree to split");
        int shards = plan.ShardRoots.Count;
        int[] shardOf = new int[plan.Prompts.Count];
        int[][] members = new int[shards][];
        for (int s = 0; s < shards; s++)
        {
            members[s] = [.. tree.Leaves(plan.ShardRoots[s]).Order()];
            foreach (int member in members[s])
            {
                shardOf[member] = s;
            }
        }

        int ScopeOf(PlanSegment segment)
        {
            int s = shardOf[segment.Members[0]];
            return segment.Members.Length <= members[s].Length ? s : -1;
        }

        // Each part's segments in the plan's order (parents first), and where each shard starts from.
        var scopeOfNode = plan.Segments.ToDictionary(s => s.Node, ScopeOf);
        ILookup<int, PlanSegment> segments = plan.Segments.ToLookup(s => scopeOfNode[s.Node]);
        ShardStart[] starts = [.. Enumerable.Range(0, shards)
            .Where(s => segments[s].Any())
            .Select(s => new ShardStart(s, segments[s].First(g => g.Source < 0 || scopeOfNode[g.Source] != s).Source))];

        // The top part keeps the prompts whose images its own segments make (copies of one prompt across shards).
        PlanSegment[] top = [.. segments[-1]];
        int[] topPrompts = [.. top.Where(s => s.End == plan.DenoiserSteps).SelectMany(s => s.Members).Distinct().Order()];
        RunPlanFile Part(int scope, IEnumerable<int> prompts, IEnumerable<PlanSegment> own) => plan with
        {
            Scope = scope,
            PromptCount = plan.Prompts.Count,
            Prompts = [.. prompts.Select(i => plan.Prompts[i])],
            Tree = [],
            Segments = [.. own],
        };

        yield return Part(-1, topPrompts, top) with { ShardStarts = starts };
        for (int s = 0; s < shards; s++)
        {
            yield return Part(s, members[s], segments[s]);
        }
    }
}
