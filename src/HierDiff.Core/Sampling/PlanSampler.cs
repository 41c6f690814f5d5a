using HierDiff.Core.Noise;
using HierDiff.Core.Planning;
using HierDiff.Core.Schedulers;

namespace HierDiff.Core.Sampling;

/// <summary>
/// The one sampler: runs any set of plan segments (a whole plan, a subtree, one batch of siblings), each model call
/// filled with up to <c>maxBatch</c> running segments at their own next steps (<see cref="RunSegments"/>). A segment that starts mid-trajectory
/// receives its source's <see cref="Trajectory"/> as bytes, exactly as on a remote worker, and uses the noise of
/// its own lowest prompt from then on; so any split of a plan into parts gives the same bits as running it whole.
/// </summary>
public sealed class PlanSampler(DiffusionScheduler scheduler, IDenoiser denoiser, IConditioning conditioning, ulong seed, int maxBatch = 32)
{
    private readonly int _maxBatch = maxBatch >= 1 ? maxBatch : throw new ArgumentOutOfRangeException(nameof(maxBatch));

    // Model inputs and outputs, one pair per batch slot, allocated on first use and reused at every step.
    private readonly List<float[]> _scaled = [];
    private readonly List<float[]> _outputs = [];

    /// <summary>Every trajectory that starts from noise starts from prompt 0's initial latent
    /// (<see cref="Runs.StartingLatent.Shared"/>); later steps' noise stays each segment's own.</summary>
    public bool SharedStartingLatent { get; init; }

    /// <summary>Called after each model call with the number of items it denoised (for progress bars).</summary>
    public Action<int>? OnBatchDone { get; init; }

    /// <summary>The final latent of every prompt, in prompt order (prompts that share a final cluster share it).</summary>
    public float[][] RunHierarchical(HierarchicalPlan plan, int latentLength)
    {
        if (plan.Steps != scheduler.StepCount)
        {
            throw new ArgumentException($"the plan has {plan.Steps} steps, the scheduler {scheduler.StepCount}", nameof(plan));
        }

        var results = new float[plan.PromptCount][];
        foreach ((PlanSegment segment, Trajectory trajectory) in RunSegments(plan.Segments, latentLength, new Dictionary<int, byte[]>()))
        {
            foreach (int prompt in segment.Members)
            {
                results[prompt] = trajectory.Latent;
            }
        }

        return results;
    }

    /// <summary>Standard generation: every prompt alone, with its own conditioning and noise, for every step.</summary>
    public float[][] RunStandard(int promptCount, int latentLength)
    {
        PlanSegment[] alone = Enumerable.Range(0, promptCount)
            .Select(p => new PlanSegment(p, 0, scheduler.StepCount, -1, [p], 0))
            .ToArray();

        // Every segment ends at the last step, so they come back in node (= prompt) order.
        return RunSegments(alone, latentLength, new Dictionary<int, byte[]>()).Select(d => d.Trajectory.Latent).ToArray();
    }

    /// <summary>
    /// Runs a set of segments. Those whose source is not in the set continue the trajectories handed in as bytes,
    /// keyed by source node (or start from noise). Every call to the model is filled with up to <c>maxBatch</c>
    /// running segments, each at its own next step, the furthest behind first (lowest step, then lowest node): so
    /// the calls stay full across the plan's splits and no trajectory lags for long. Where the denoiser takes one
    /// timestep per call, a call holds only the lowest step's segments: step by step, in node order. A segment that
    /// ends hands its trajectory to its children in the set as bytes, and they are ready for the next call. The
    /// order of calls is a pure function of the segments, so reruns and every split of a plan into activities
    /// batch the same way. Returns the frontier: the segments with no children in the set (those that hand off to
    /// another part, and those that run the last step), with their trajectories, by end step, then node.
    /// </summary>
    public IReadOnlyList<(PlanSegment Segment, Trajectory Trajectory)> RunSegments(
        IReadOnlyList<PlanSegment> segments, int latentLength, IReadOnlyDictionary<int, byte[]> handOffs)
    {
        var frontier = new List<(PlanSegment Segment, Trajectory Trajectory)>();
        var nodes = segments.Select(s => s.Node).ToHashSet();
        ILookup<int, PlanSegment> children = segments.Where(s => nodes.Contains(s.Source)).ToLookup(s => s.Source);

        // Running segments by (the step each is at, node): the first is the furthest behind.
        var ready = new SortedSet<(int Step, int Node)>();
        var running = new Dictionary<int, Running>();
        void Begin(PlanSegment segment, byte[]? handOff)
        {
            running.Add(segment.Node, Start(segment, latentLength, handOff));
            ready.Add((segment.Start, segment.Node));
        }

        foreach (PlanSegment segment in segments.Where(s => !nodes.Contains(s.Source)))
        {
            byte[]? handOff = segment.Source < 0 ? null : handOffs.TryGetValue(segment.Source, out byte[]? bytes)
                ? bytes
                : throw new InvalidOperationException($"node {segment.Node} continues node {segment.Source}, whose trajectory is not here");
            Begin(segment, handOff);
        }

        var call = new List<(Running Item, int Step)>(_maxBatch);
        while (ready.Count > 0)
        {
            call.Clear();
            int lowest = ready.Min.Step;
            foreach ((int step, int node) in ready)
            {
                if (call.Count == _maxBatch || (step != lowest && !denoiser.TimestepPerItem))
                {
                    break;
                }

                call.Add((running[node], step));
            }

            foreach ((Running r, int step) in call)
            {
                ready.Remove((step, r.Segment.Node));
            }

            Predict(call);

            foreach ((Running r, int step) in call)
            {
                if (step + 1 < r.Segment.End)
                {
                    ready.Add((step + 1, r.Segment.Node));
                    continue;
                }

                running.Remove(r.Segment.Node);
                if (children.Contains(r.Segment.Node))
                {
                    // Through bytes even here, so that a child sees exactly what a child on another worker would.
                    byte[] bytes = r.Trajectory.ToBytes();
                    foreach (PlanSegment child in children[r.Segment.Node])
                    {
                        Begin(child, bytes);
                    }
                }
                else
                {
                    frontier.Add((r.Segment, r.Trajectory));
                }
            }
        }

        return [.. frontier.OrderBy(d => d.Segment.End).ThenBy(d => d.Segment.Node)];
    }

    /// <summary>A segment's starting trajectory (its source's, from bytes, or fresh noise from its lowest prompt),
    /// its noise and its conditioning.</summary>
    private Running Start(PlanSegment segment, int latentLength, byte[]? handOff)
    {
        Trajectory trajectory;
        if (handOff is null)
        {
            var latent = new float[latentLength];
            scheduler.InitializeLatent(latent, new NoiseStream(seed, SharedStartingLatent ? 0 : segment.NoiseMember));
            trajectory = new Trajectory(latent, scheduler.CreateState());
        }
        else
        {
            trajectory = Trajectory.FromBytes(handOff);
        }

        if (trajectory.State.StepIndex != segment.Start)
        {
            throw new InvalidOperationException(
                $"node {segment.Node} starts at step {segment.Start}, but the trajectory handed to it is at step {trajectory.State.StepIndex}");
        }

        return new Running(segment, trajectory, new NoiseStream(seed, segment.NoiseMember), conditioning.For(segment));
    }

    /// <summary>One model call: scale each item's latent for its step, predict, step each, check.</summary>
    private void Predict(List<(Running Item, int Step)> call)
    {
        var inputs = new DenoiserInput[call.Count];
        for (int b = 0; b < call.Count; b++)
        {
            (Running r, int step) = call[b];
            if (_scaled.Count <= b)
            {
                _scaled.Add(new float[r.Trajectory.Latent.Length]);
                _outputs.Add(new float[r.Trajectory.Latent.Length]);
            }

            scheduler.ScaleModelInput(r.Trajectory.Latent, _scaled[b], step);
            inputs[b] = new DenoiserInput(_scaled[b], scheduler.Timesteps[step], r.Conditioning);
        }

        denoiser.Predict(inputs, _outputs);
        for (int b = 0; b < call.Count; b++)
        {
            (Running r, int step) = call[b];
            scheduler.Step(r.Trajectory.State, _outputs[b], r.Trajectory.Latent, r.Noise);
            NonFiniteLatentException.ThrowIfNotFinite(r.Trajectory.Latent, r.Segment, step, scheduler.StepCount);
        }

        OnBatchDone?.Invoke(call.Count);
    }

    private sealed record Running(PlanSegment Segment, Trajectory Trajectory, NoiseStream Noise, float[] Conditioning);
}
