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

        ILookup<int, PlanSegment> starting = plan.Segments.ToLookup(s => s.StartStep);
        Dictionary<int, int> waitingChildren = plan.Segments.Where(s => s.Source >= 0)
            .GroupBy(s => s.Source).ToDictionary(g => g.Key, g => g.Count());
        var running = new Dictionary<int, Running>();
        var handOffs = new Dictionary<int, byte[]>();
        var results = new float[plan.PromptCount][];
        for (int k = 0; k < plan.Steps; k++)
        {
            foreach (PlanSegment segment in starting[k])
            {
                byte[]? handOff = null;
                if (segment.Source >= 0)
                {
                    handOff = handOffs[segment.Source];
                    if (--waitingChildren[segment.Source] == 0)
                    {
                        handOffs.Remove(segment.Source);
                    }
                }

                running[segment.Node] = Start(segment, latentLength, handOff);
            }

            StepAll(plan.ActivePerStep[k].Select(node => running[node]).ToList(), k);

            foreach (int node in plan.ActivePerStep[k])
            {
                Running r = running[node];
                if (r.Segment.EndStep != k + 1)
                {
                    continue;
                }

                running.Remove(node);
                if (k + 1 == plan.Steps)
                {
                    foreach (int prompt in r.Segment.Members)
                    {
                        results[prompt] = r.Trajectory.Latent;
                    }
                }
                else
                {
                    handOffs[node] = r.Trajectory.ToBytes();
                }
            }
        }

        return results;
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
            }

            OnBatchDone?.Invoke(batch.Count);
        }
    }

    private sealed record Running(PlanSegment Segment, Trajectory Trajectory, NoiseStream Noise, float[] Conditioning);
}
