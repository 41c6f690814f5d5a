using HierDiff.Core.Planning;

namespace HierDiff.Core.Sampling;

/// <summary>
/// A segment's latent held NaN or infinity after a step: the model or its settings overflowed (a guidance scale or a
/// scheduler the model cannot take). Decoding on would give blank or noise images with no error, so the run fails
/// here, naming the segment's prompts and the step.
/// </summary>
public sealed class NonFiniteLatentException(PlanSegment segment, int step, int steps)
    : HierDiffInputException($"node {segment.Node} (prompt{(segment.Members.Length == 1 ? "" : "s")} {string.Join(", ", segment.Members.Take(5))}" +
        $"{(segment.Members.Length > 5 ? ", ..." : "")}) turned non-finite at step {step + 1} of {steps}: the model overflows with these settings (guidance, scheduler)")
{
    public PlanSegment Segment { get; } = segment;

    /// <summary>The step (from 0) after which the latent was not finite.</summary>
    public int Step { get; } = step;

    /// <summary>Throws where <paramref name="latent"/> holds a NaN or an infinity.</summary>
    public static void ThrowIfNotFinite(ReadOnlySpan<float> latent, PlanSegment segment, int step, int steps)
    {
        foreach (float value in latent)
        {
            if (!float.IsFinite(value))
            {
                throw new NonFiniteLatentException(segment, step, steps);
            }
        }
    }
}
