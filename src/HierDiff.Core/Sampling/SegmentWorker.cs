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
    public Trajectory Run(PlanSegment segment, int latentLength, byte[]? handOff)
    {
        Trajectory trajectory = Begin(scheduler, segment, latentLength, handOff, seed);
        if (trajectory.State.StepIndex != segment.StartStep)
        {
            throw new InvalidOperationException(
                $"node {segment.Node} starts at step {segment.StartStep}, but the trajectory handed to it is at step {trajectory.State.StepIndex}");
        }

        var noise = new NoiseStream(seed, segment.NoiseMember);
        float[] cond = conditioning.For(segment.Members);
        var scaled = new float[latentLength];
        var output = new float[latentLength];
        for (int k = segment.StartStep; k < segment.EndStep; k++)
        {
            scheduler.ScaleModelInput(trajectory.Latent, scaled, k);
            denoiser.Predict([new DenoiserInput(scaled, scheduler.Timesteps[k], cond)], [output]);
            scheduler.Step(trajectory.State, output, trajectory.Latent, noise);
        }

        return trajectory;
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
