using HierDiff.Core.Noise;
using HierDiff.Core.Planning;
using HierDiff.Core.Schedulers;

namespace HierDiff.Core.Sampling;

/// <summary>
/// The one sampler: runs any set of plan segments (a whole plan, a subtree, one batch of siblings) step by step,
/// every running segment advanced in batches of at most <c>maxBatch</c>. A segment that starts mid-trajectory
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
    /// Runs a set of segments step by step. Those whose source is not in the set continue the trajectories handed
    /// in as bytes, keyed by source node (or start from noise at step 0). At each step every running segment is
    /// advanced, in node order, in batches; a segment that ends hands its trajectory to its children in the set as
    /// bytes. Returns the frontier: the segments with no children in the set (those that hand off to another part,
    /// and those that run the last step), with their trajectories, in the order they end (then node order).
    /// </summary>
    public IReadOnlyList<(PlanSegment Segment, Trajectory Trajectory)> RunSegments(
        IReadOnlyList<PlanSegment> segments, int latentLength, IReadOnlyDictionary<int, byte[]> handOffs)
    {
        var frontier = new List<(PlanSegment, Trajectory)>();
        if (segments.Count == 0)
        {
            return frontier;
        }

        ILookup<int, PlanSegment> starting = segments.ToLookup(s => s.Start);
        Dictionary<int, int> waitingChildren = segments.Where(s => s.Source >= 0)
            .GroupBy(s => s.Source).ToDictionary(g => g.Key, g => g.Count());
        var pending = new Dictionary<int, byte[]>(handOffs);
        var running = new SortedDictionary<int, Running>();
        int end = segments.Max(s => s.End);
        for (int k = segments.Min(s => s.Start); k < end; k++)
        {
            foreach (PlanSegment segment in starting[k])
            {
                byte[]? handOff = null;
                if (segment.Source >= 0)
                {
                    handOff = pending.TryGetValue(segment.Source, out byte[]? bytes)
                        ? bytes
                        : throw new InvalidOperationException($"node {segment.Node} continues node {segment.Source}, whose trajectory is not here");
                    if (--waitingChildren[segment.Source] == 0)
                    {
                        pending.Remove(segment.Source);
                    }
                }

                running.Add(segment.Node, Start(segment, latentLength, handOff));
            }

            Step([.. running.Values], k);

            foreach (Running r in running.Values.Where(r => r.Segment.End == k + 1).ToArray())
            {
                running.Remove(r.Segment.Node);
                if (waitingChildren.ContainsKey(r.Segment.Node))
                {
                    // Through bytes even here, so that a child sees exactly what a child on another worker would.
                    pending[r.Segment.Node] = r.Trajectory.ToBytes();
                }
                else
                {
                    frontier.Add((r.Segment, r.Trajectory));
                }
            }
        }

        return frontier;
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

    /// <summary>One step of every running segment, in order: scale, predict in batches, step, check.</summary>
    private void Step(List<Running> active, int step)
    {
        double timestep = scheduler.Timesteps[step];
        for (int first = 0; first < active.Count; first += _maxBatch)
        {
            List<Running> batch = active.GetRange(first, Math.Min(_maxBatch, active.Count - first));
            var inputs = new DenoiserInput[batch.Count];
            for (int b = 0; b < batch.Count; b++)
            {
                float[] latent = batch[b].Trajectory.Latent;
                if (_scaled.Count <= b)
                {
                    _scaled.Add(new float[latent.Length]);
                    _outputs.Add(new float[latent.Length]);
                }

                scheduler.ScaleModelInput(latent, _scaled[b], step);
                inputs[b] = new DenoiserInput(_scaled[b], timestep, batch[b].Conditioning);
            }

            denoiser.Predict(inputs, _outputs);
            for (int b = 0; b < batch.Count; b++)
            {
                scheduler.Step(batch[b].Trajectory.State, _outputs[b], batch[b].Trajectory.Latent, batch[b].Noise);
                NonFiniteLatentException.ThrowIfNotFinite(batch[b].Trajectory.Latent, batch[b].Segment, step, scheduler.StepCount);
            }

            OnBatchDone?.Invoke(batch.Count);
        }
    }

    private sealed record Running(PlanSegment Segment, Trajectory Trajectory, NoiseStream Noise, float[] Conditioning);
}
