using System.Text.Json;
using HierDiff.Core.Clustering;
using HierDiff.Core.Planning;
using HierDiff.Core.Runs;
using HierDiff.Pipeline.Activities;

namespace HierDiff.Report;

/// <summary>
/// What <c>hierdiff report</c> draws of a run's <c>plan.json</c> (<see cref="RunPlanFile"/>, as PlanRun wrote it
/// in the run store and generate copied it into the run folder): the prompt tree and who denoised which steps. A
/// standard run has no tree and one segment per prompt. Plans of runs made before the plan held the tree (with
/// <c>prompts</c> a count and <c>mode</c> and <c>steps</c> at the top) read too.
/// </summary>
/// <param name="Steps">The denoiser steps of a trajectory: the run's steps, or more for PNDM.</param>
public sealed record RunTreeFile(string Mode, double Tau, int Steps, int Prompts, IReadOnlyList<TreeMerge> Tree, IReadOnlyList<PlanSegment> Segments)
{
    public const string FileName = RunPlanFile.FileName;

    /// <summary>The root's node id: the last merge's.</summary>
    public int Root => Prompts + Tree.Count - 1;

    /// <summary>How many prompts a node holds.</summary>
    public int Count(int node) => node < Prompts ? 1 : Tree[node - Prompts].Count;

    /// <summary>A node and everything below it, in tree order (left first), without recursion: a tree of N prompts
    /// can be N deep.</summary>
    public IEnumerable<int> Below(int node)
    {
        var stack = new Stack<int>([node]);
        while (stack.Count > 0)
        {
            int n = stack.Pop();
            yield return n;
            if (n >= Prompts)
            {
                stack.Push(Tree[n - Prompts].Right);
                stack.Push(Tree[n - Prompts].Left);
            }
        }
    }

    /// <summary>
    /// The plan.json of a run, or null where it has none (runs older than <c>hierdiff report</c>). It is checked to be
    /// a plan <c>generate</c> could have written for the manifest's N prompts, so that drawing it visits each node once:
    /// a tree of N - 1 merges (or none), merge i making node N + i from two nodes made before it, each joined once, with
    /// the prompt count of its two; segments of distinct nodes, each continuing a segment that ends where it starts,
    /// that give every prompt every step exactly once. Anything else is refused as one line naming the field.
    /// </summary>
    public static RunTreeFile? Read(RunManifest manifest)
    {
        string path = manifest.Folder.Show(FileName);
        if (manifest.Folder.ReadIfPresent(FileName, path, RunFolder.MaxJsonBytes) is not byte[] bytes)
        {
            return null;
        }

        JsonField root = JsonField.Parse(path, bytes);
        int n = manifest.Prompts.Count;
        JsonField prompts = root.Property("prompts");
        int planned = prompts.Value.ValueKind == JsonValueKind.Array ? prompts.ArrayLength : prompts.Int();
        if (planned != n)
        {
            throw prompts.Error($"{planned} prompts, but {RunManifest.FileName} has {n}");
        }

        // The plan as PlanRun writes it keeps mode and steps among the options; older run folders had them at the top.
        JsonField options = root.OptionalProperty("options") ?? root;
        JsonField stepsField = options.Property("steps");
        int steps = stepsField.Int(1);
        if (manifest.Steps is int manifestSteps && steps != manifestSteps)
        {
            throw stepsField.Error($"{steps} steps, but {RunManifest.FileName} has {manifestSteps}");
        }

        // Segments count denoiser steps, more than the steps for PNDM; plans written before they could differ have none.
        int denoiserSteps = root.OptionalProperty("denoiser_steps")?.Int(1) ?? steps;
        TreeMerge[] tree = ReadTree(root.Property("tree"), n);
        PlanSegment[] segments = ReadSegments(root.Property("segments"), n, tree, denoiserSteps);
        return new RunTreeFile(options.Property("mode").String(), root.Property("tau").Double(), denoiserSteps, n, tree, segments);
    }

    private static TreeMerge[] ReadTree(JsonField field, int n)
    {
        if (field.ArrayLength != 0 && field.ArrayLength != n - 1)
        {
            throw field.Error($"{field.ArrayLength} merges; a tree of {n} prompts has {n - 1} (or none, for standard generation)");
        }

        var merges = new TreeMerge[field.ArrayLength];
        var joined = new bool[n + merges.Length];
        foreach ((JsonField merge, int i) in field.Items().Select((m, i) => (m, i)))
        {
            JsonField node = merge.Property("node");
            if (node.Int() != n + i)
            {
                throw node.Error($"{node.Int()}, but merge {i} of {n} prompts makes node {n + i}");
            }

            // Children made before their parent, each joined once: the merges form one tree, with no cycle.
            int Child(string name)
            {
                JsonField child = merge.Property(name);
                int c = child.Int(0, joined.Length - 1);
                if (c >= n + i)
                {
                    throw child.Error($"node {c} is not made before node {n + i}: a merge joins earlier nodes, so a tree has no cycle");
                }

                if (joined[c])
                {
                    throw child.Error($"node {c} is joined twice");
                }

                joined[c] = true;
                return c;
            }

            int left = Child("left");
            int right = Child("right");
            int Served(int c) => c < n ? 1 : merges[c - n].Count;
            JsonField count = merge.Property("count");
            if (count.Int() != Served(left) + Served(right))
            {
                throw count.Error($"{count.Int()}, but nodes {left} and {right} serve {Served(left) + Served(right)} prompts");
            }

            merges[i] = new TreeMerge(n + i, left, right, merge.Property("score").Double(), count.Int());
        }

        return merges;
    }

    private static PlanSegment[] ReadSegments(JsonField field, int n, TreeMerge[] tree, int steps)
    {
        int nodes = n + tree.Length;
        var byNode = new Dictionary<int, (PlanSegment Segment, JsonField Field)>();
        foreach (JsonField s in field.Items())
        {
            JsonField nodeField = s.Property("node");
            int node = nodeField.Int(0, nodes - 1);
            if (byNode.ContainsKey(node))
            {
                throw nodeField.Error($"node {node} has two segments");
            }

            int start = s.Property("start").Int(0, steps - 1);
            int end = s.Property("end").Int(start + 1, steps);
            JsonField sourceField = s.Property("source");
            int source = sourceField.Int(-1, nodes - 1);
            if (source == node)
            {
                throw sourceField.Error($"node {node} is its own source");
            }

            if ((source == -1) != (start == 0))
            {
                throw sourceField.Error(start == 0 ? "a segment from step 0 starts from noise (-1)" : $"{source}, but a segment from step {start} continues another node's latent");
            }

            // The count is checked before the members are read, so a segment cannot list more prompts than the run has.
            JsonField membersField = s.Property("members");
            int expected = node < n ? 1 : tree[node - n].Count;
            int[] members = membersField.ArrayLength == expected ? membersField.Items().Select(m => m.Int(0, n - 1)).ToArray() : [];
            if (members.Length != expected || (node < n && members[0] != node) || members.Zip(members.Skip(1)).Any(p => p.First >= p.Second))
            {
                throw membersField.Error($"node {node} serves {expected} prompts, listed once each in ascending order");
            }

            byNode[node] = (new PlanSegment(node, start, end, source, members, s.Property("score").Double()), s);
        }

        foreach ((PlanSegment segment, JsonField s) in byNode.Values)
        {
            // A source ends where its successor starts, so following sources goes back in steps and ends at noise.
            if (segment.Source >= 0 && (!byNode.TryGetValue(segment.Source, out var source) || source.Segment.End != segment.Start))
            {
                throw s.Property("source").Error($"node {segment.Source} has no segment ending at step {segment.Start}");
            }
        }

        CheckEveryStepOnce(field, n, steps, byNode.Values.Select(v => v.Segment));
        return byNode.Values.Select(v => v.Segment).ToArray();
    }

    /// <summary>Each prompt is denoised at every step by exactly one segment, as the pipeline runs a plan.</summary>
    private static void CheckEveryStepOnce(JsonField field, int n, int steps, IEnumerable<PlanSegment> segments)
    {
        var ranges = new List<(int Start, int End)>[n];
        foreach (PlanSegment s in segments)
        {
            foreach (int member in s.Members)
            {
                (ranges[member] ??= []).Add((s.Start, s.End));
            }
        }

        for (int p = 0; p < n; p++)
        {
            int step = 0;
            foreach ((int start, int end) in (ranges[p] ?? []).OrderBy(r => r.Start))
            {
                if (start != step)
                {
                    break;
                }

                step = end;
            }

            if (step != steps)
            {
                throw field.Error($"the segments of prompt {p} do not give it each of steps 0-{steps - 1} exactly once");
            }
        }
    }
}
