using HierDiff.Core.Noise;
using HierDiff.Core.Planning;
using HierDiff.Core.Schedulers;

namespace HierDiff.Core.Sampling;

/// <summary>
/// What one remote worker does with one tree-node segment: take the source's trajectory bytes (or start from
/// the segment's own noise), denoise steps [StartStep, EndStep) with the segment's conditioning, and hand the
/// trajectory on. Running a plan segment by segment this way gives the same bits as <see cref="PlanSampler"/>.
/// </summary>
public sealed class SegmentWorker(DiffusionScheduler scheduler, IDenoiser denoiser, IConditioning conditioning, ulong seed)
{
    public Trajectory Run(PlanSegment segment, int latentLength, byte[]? handOff) =>
        RunBatch([segment], latentLength, handOff, maxBatch: 1)[0];

    /// <summary>
    /// Sibling segments that continue the same trajectory over the same steps, denoised together in batches of at
    /// most <paramref name="maxBatch"/>: each starts from its own copy of <paramref name="handOff"/> (or its own
    /// noise when there is none) and ends in its own trajectory, in the order given.
    /// </summary>
    public Trajectory[] RunBatch(IReadOnlyList<PlanSegment> segments, int latentLength, byte[]? handOff, int maxBatch)
    {
        PlanSegment first = segments[0];
        if (segments.Any(s => s.StartStep != first.StartStep || s.EndStep != first.EndStep))
        {
            throw new ArgumentException("a batch of segments must share its step range", nameof(segments));
        }

        var trajectories = new Trajectory[segments.Count];
        var noises = new NoiseStream[segments.Count];
        var conditionings = new float[segments.Count][];
        for (int i = 0; i < segments.Count; i++)
        {
            trajectories[i] = Begin(scheduler, segments[i], latentLength, handOff, seed);
            if (trajectories[i].State.StepIndex != first.StartStep)
            {
                throw new InvalidOperationException(
                    $"node {segments[i].Node} starts at step {first.StartStep}, but the trajectory handed to it is at step {trajectories[i].State.StepIndex}");
            }

            noises[i] = new NoiseStream(seed, segments[i].NoiseMember);
            conditionings[i] = conditioning.For(segments[i].Members);
        }

        int width = Math.Min(maxBatch, segments.Count);
        var scaled = Enumerable.Range(0, width).Select(_ => new float[latentLength]).ToArray();
        var outputs = Enumerable.Range(0, width).Select(_ => new float[latentLength]).ToArray();
        for (int k = first.StartStep; k < first.EndStep; k++)
        {
            for (int from = 0; from < segments.Count; from += width)
            {
                int count = Math.Min(width, segments.Count - from);
                var inputs = new DenoiserInput[count];
                for (int b = 0; b < count; b++)
                {
                    scheduler.ScaleModelInput(trajectories[from + b].Latent, scaled[b], k);
                    inputs[b] = new DenoiserInput(scaled[b], scheduler.Timesteps[k], conditionings[from + b]);
                }

                denoiser.Predict(inputs, outputs);
                for (int b = 0; b < count; b++)
                {
                    scheduler.Step(trajectories[from + b].State, outputs[b], trajectories[from + b].Latent, noises[from + b]);
                    NonFiniteLatentException.ThrowIfNotFinite(trajectories[from + b].Latent, segments[from + b], k, scheduler.NumInferenceSteps);
                }
            }
        }

        return trajectories;
    }

    /// <summary>A segment's starting trajectory: its source's, from bytes, or fresh noise from its lowest prompt.</summary>
    internal static Trajectory Begin(DiffusionScheduler scheduler, PlanSegment segment, int latentLength, byte[]? handOff, ulong seed)
    {
        if (handOff is not null)
        {
            return Trajectory.FromBytes(handOff);
        }

        var latent = new float[latentLength];
        scheduler.InitializeLatent(latent, new NoiseStream(seed, segment.NoiseMember));
        return new Trajectory(latent, scheduler.CreateState());
    }
}
