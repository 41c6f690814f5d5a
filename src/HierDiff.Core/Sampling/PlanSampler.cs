using HierDiff.Core.Noise;
using HierDiff.Core.Planning;
using HierDiff.Core.Schedulers;

namespace HierDiff.Core.Sampling;

/// <summary>
/// Runs a step plan on one machine: step by step, every active cluster's latent advanced in batches of at most
/// <c>maxBatch</c>. A cluster that starts mid-trajectory receives its source's <see cref="Trajectory"/> as bytes,
/// exactly as a remote worker would, and uses the noise of its own lowest prompt from then on.
/// </summary>
public sealed class PlanSampler(DiffusionScheduler scheduler, IDenoiser denoiser, IConditioning conditioning, ulong seed, int maxBatch = 32)
{
    private readonly int _maxBatch = maxBatch >= 1 ? maxBatch : throw new ArgumentOutOfRangeException(nameof(maxBatch));

    // Model inputs and outputs, one pair per batch slot, allocated on first use and reused at every step.
    private readonly List<float[]> _scaled = [];
    private readonly List<float[]> _outputs = [];

    /// <summary>Called after each model call with the number of items it denoised (for progress bars).</summary>
    public Action<int>? OnBatchDone { get; init; }

    /// <summary>The final latent of every prompt, in prompt order (prompts that share a final cluster share it).</summary>
    public float[][] RunHierarchical(HierarchicalPlan plan, int latentLength)
    {
        if (plan.Steps != scheduler.NumInferenceSteps)
        {
            throw new ArgumentException($"the plan has {plan.Steps} steps, the scheduler {scheduler.NumInferenceSteps}", nameof(plan));
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

    /// <summary>
    /// Runs segments of a plan step by step: the whole plan, or a part of one (a subtree) whose first segments
    /// continue trajectories handed to it as bytes (keyed by their source node). At each step every running
    /// segment is advanced, in node order, in batches; a segment that ends hands its trajectory to its children
    /// as bytes. Returns the segments that run the last step, with their final trajectories, in the order they end.
    /// </summary>
    public IReadOnlyList<(PlanSegment Segment, Trajectory Trajectory)> RunSegments(
        IReadOnlyList<PlanSegment> segments, int latentLength, IReadOnlyDictionary<int, byte[]> handOffs)
    {
        var finished = new List<(PlanSegment, Trajectory)>();
        if (segments.Count == 0)
        {
            return finished;
        }

        ILookup<int, PlanSegment> starting = segments.ToLookup(s => s.StartStep);
        Dictionary<int, int> waitingChildren = segments.Where(s => s.Source >= 0)
            .GroupBy(s => s.Source).ToDictionary(g => g.Key, g => g.Count());
        var pending = new Dictionary<int, byte[]>(handOffs);
        var running = new SortedDictionary<int, Running>();
        int steps = scheduler.NumInferenceSteps;
        for (int k = segments.Min(s => s.StartStep); k < steps; k++)
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

            StepAll([.. running.Values], k);

            foreach (Running r in running.Values.Where(r => r.Segment.EndStep == k + 1).ToArray())
            {
                running.Remove(r.Segment.Node);
                if (k + 1 == steps)
                {
                    finished.Add((r.Segment, r.Trajectory));
                }
                else
                {
                    pending[r.Segment.Node] = r.Trajectory.ToBytes();
                }
            }
        }

        return finished;
    }

    /// <summary>Standard generation: every prompt alone, with its own conditioning and noise, for every step.</summary>
    public float[][] RunStandard(int promptCount, int latentLength)
    {
        var all = Enumerable.Range(0, promptCount)
            .Select(p => Start(new PlanSegment(p, 0, scheduler.NumInferenceSteps, -1, [p], 0), latentLength, handOff: null))
            .ToList();
        for (int k = 0; k < scheduler.NumInferenceSteps; k++)
        {
            StepAll(all, k);
        }

        return all.Select(r => r.Trajectory.Latent).ToArray();
    }

    private Running Start(PlanSegment segment, int latentLength, byte[]? handOff)
    {
        Trajectory trajectory = SegmentWorker.Begin(scheduler, segment, latentLength, handOff, seed);
        return new Running(segment, trajectory, new NoiseStream(seed, segment.NoiseMember), conditioning.For(segment.Members));
    }

    private void StepAll(List<Running> active, int step)
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
                NonFiniteLatentException.ThrowIfNotFinite(batch[b].Trajectory.Latent, batch[b].Segment, step, scheduler.NumInferenceSteps);
            }

            OnBatchDone?.Invoke(batch.Count);
        }
    }

    private sealed record Running(PlanSegment Segment, Trajectory Trajectory, NoiseStream Noise, float[] Conditioning);
}
