using HierDiff.Core.Clustering;

namespace HierDiff.Core.Planning;

/// <summary>
/// One tree node's share of the work: the steps [Start, End) it denoises with the mean embedding of its
/// prompts, continuing the latent of <see cref="Source"/> (or fresh noise when there is none).
/// </summary>
/// <param name="Node">Linkage node id (prompts 0..N-1, clusters N..2N-2).</param>
/// <param name="Source">The node whose segment ended at Start - 1 and hands its latent over; -1 at step 0.</param>
/// <param name="Members">The prompts this node serves, ascending.</param>
/// <param name="Score">The node's merge height (0 for a prompt).</param>
public sealed record PlanSegment(int Node, int Start, int End, int Source, int[] Members, double Score)
{
    [System.Text.Json.Serialization.JsonIgnore]
    public int Steps => End - Start;

    /// <summary>The member whose noise the segment uses: the lowest prompt index. A cluster that splits hands
    /// each child to its own lowest member, so a prompt alone from step 0 sees exactly standard generation's noise.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public int NoiseMember => Members[0];
}

/// <summary>
/// The step plan of the paper's Algorithm 1, as the authors' code runs it.
/// <code>
///   phi = linspace(0, tau, K)[::-1]                  # the threshold falls from tau to exactly 0
///   for k in 0..K-1:
///       clusters = fcluster(Z, phi[k], 'distance')   # each prompt: the largest cluster with score &lt;= phi[k]
///       for c in clusters: z_c = step(z_parent(c), k, mean(embeddings of c))
/// </code>
/// Because phi never rises and scores never fall towards the root, each node is active in one contiguous range of
/// steps: from the first step whose phi is below its parent's score to the last step whose phi reaches its own.
/// Nodes with an empty range are passed over; a node continues the latent of its nearest ancestor that ran.
/// </summary>
public sealed class HierarchicalPlan
{
    private HierarchicalPlan(Linkage tree, double tau, double[] thresholds, List<PlanSegment> segments, List<int>[] active)
    {
        Tree = tree;
        Tau = tau;
        Thresholds = thresholds;
        Segments = segments;
        ActivePerStep = active;
        DenoiserCalls = segments.Sum(s => (long)s.Steps);
    }

    public Linkage Tree { get; }

    public double Tau { get; }

    public int Steps => Thresholds.Count;

    public int PromptCount => Tree.LeafCount;

    /// <summary>phi(k) for each step k (<see cref="SplitSchedule"/>).</summary>
    public IReadOnlyList<double> Thresholds { get; }

    /// <summary>Every node that runs at least one step, ordered by start step, then node id.</summary>
    public IReadOnlyList<PlanSegment> Segments { get; }

    /// <summary>The nodes active at each step (each prompt is served by exactly one of them).</summary>
    public IReadOnlyList<IReadOnlyList<int>> ActivePerStep { get; }

    /// <summary>Sum over steps of the active clusters: the paper's cost (a guided call counts once).</summary>
    public long DenoiserCalls { get; }

    public long StandardDenoiserCalls => (long)Steps * PromptCount;

    public double Savings => 1.0 - ((double)DenoiserCalls / StandardDenoiserCalls);

    /// <summary>The segments that run the last step: their latents are the images.</summary>
    public IEnumerable<PlanSegment> FinalSegments => Segments.Where(s => s.End == Steps);

    /// <param name="schedule">How phi falls; null: the paper's (<see cref="SplitSchedule.Paper"/>).</param>
    public static HierarchicalPlan Build(Linkage tree, double tau, int steps, SplitSchedule? schedule = null)
    {
        double[] phi = (schedule ?? SplitSchedule.Paper).Thresholds(tau, steps);
        var segments = new List<PlanSegment>();
        var active = new List<int>[steps];
        for (int k = 0; k < steps; k++)
        {
            active[k] = [];
        }

        var ranges = new (int Start, int End)[tree.NodeCount];
        var source = new int[tree.NodeCount];

        // Walk from the root down, so a node's ancestors have their ranges before it needs its source.
        var stack = new Stack<int>();
        stack.Push(tree.Root);
        while (stack.Count > 0)
        {
            int node = stack.Pop();
            int parent = tree.Parent(node);
            ranges[node] = ActiveRange(tree, node, phi);

            // The latent comes from the nearest ancestor that ran; it ran up to the step before this node starts.
            source[node] = parent < 0 ? -1 : ranges[parent].Start < ranges[parent].End ? parent : source[parent];
            (int start, int end) = ranges[node];
            if (start < end)
            {
                segments.Add(new PlanSegment(node, start, end, start == 0 ? -1 : source[node], tree.Leaves(node), tree.Score(node)));
                for (int k = start; k < end; k++)
                {
                    active[k].Add(node);
                }
            }

            if (!tree.IsLeaf(node) && end < steps)
            {
                stack.Push(tree.Row(node).Right);
                stack.Push(tree.Row(node).Left);
            }
        }

        segments.Sort((a, b) => a.Start != b.Start ? a.Start.CompareTo(b.Start) : a.Node.CompareTo(b.Node));
        foreach (List<int> nodes in active)
        {
            nodes.Sort();
        }

        return new HierarchicalPlan(tree, tau, phi, segments, active);
    }

    /// <summary>The denoiser calls of a plan without building it: O(nodes x K), for searches over tau.</summary>
    public static long CountDenoiserCalls(Linkage tree, double tau, int steps, SplitSchedule? schedule = null)
    {
        double[] phi = (schedule ?? SplitSchedule.Paper).Thresholds(tau, steps);
        long calls = 0;
        for (int node = 0; node < tree.NodeCount; node++)
        {
            (int start, int end) = ActiveRange(tree, node, phi);
            calls += Math.Max(0, end - start);
        }

        return calls;
    }

    /// <summary>numpy's <c>linspace(0, tau, K)[::-1]</c>, bit for bit: i * (tau / (K - 1)), the end point exact.</summary>
    public static double[] ThresholdSchedule(double tau, int steps)
    {
        if (steps < 1)
        {
            throw new HierDiffInputException($"steps must be at least 1, not {steps}");
        }

        if (!double.IsFinite(tau) || tau < 0)
        {
            throw new HierDiffInputException($"tau must be a finite number >= 0, not {tau}");
        }

        var linspace = new double[steps];
        if (steps > 1)
        {
            double step = tau / (steps - 1);
            for (int i = 0; i < steps; i++)
            {
                linspace[i] = step == 0 ? i / (double)(steps - 1) * tau : i * step;
            }

            linspace[^1] = tau;
        }

        Array.Reverse(linspace);
        return linspace;
    }

    /// <summary>
    /// The steps [start, end) at which <paramref name="node"/> is a flat cluster of fcluster(Z, phi[k]):
    /// its score is &lt;= phi[k] and its parent's is not.
    /// </summary>
    private static (int Start, int End) ActiveRange(Linkage tree, int node, double[] phi)
    {
        int parent = tree.Parent(node);
        double parentScore = parent < 0 ? double.PositiveInfinity : tree.Score(parent);
        double score = tree.Score(node);
        int start = 0;
        while (start < phi.Length && phi[start] >= parentScore)
        {
            start++;
        }

        int end = start;
        while (end < phi.Length && phi[end] >= score)
        {
            end++;
        }

        return (start, end);
    }
}
