namespace HierDiff.Core.Planning;

/// <summary>
/// How the threshold phi(k) falls from tau to 0 over a plan's K steps; the paper's falls linearly over all of them.
/// <code>
///   K' = K - L                                        # L = PrivateSteps: the last L steps stay at phi 0
///   phi(k) = tau * (1 - k / (K' - 1)) ^ G   for k &lt; K'  # G = Shape; G = 1 is numpy's linspace, bit for bit
///   phi(k) = 0                              for k >= K'
/// </code>
/// At the same tau, G &gt; 1 lowers every phi(k), so clusters split sooner; G &lt; 1 raises them, so clusters hold
/// together longer and split in fewer, later steps. phi(K' - 1) is 0, so every prompt runs at least its last L + 1
/// steps on its own conditioning (the paper's schedule already runs the last step alone: L = 0).
/// </summary>
public sealed record SplitSchedule(double Shape = 1.0, int PrivateSteps = 0)
{
    /// <summary>The paper's: linear, over all K steps.</summary>
    public static readonly SplitSchedule Paper = new();

    /// <summary>Largest shape accepted: beyond it every phi but the first underflows towards 0.</summary>
    public const double MaxShape = 100;

    /// <summary>phi(k) for each of <paramref name="steps"/> steps.</summary>
    public double[] Thresholds(double tau, int steps)
    {
        if (!(double.IsFinite(Shape) && Shape > 0 && Shape <= MaxShape))
        {
            throw new HierDiffInputException($"the split shape must be a number above 0 and at most {MaxShape}, not {Shape}");
        }

        if (PrivateSteps < 0 || PrivateSteps >= Math.Max(1, steps))
        {
            throw new HierDiffInputException($"private steps must be from 0 to {Math.Max(0, steps - 1)} (one fewer than the {steps} steps), not {PrivateSteps}");
        }

        int falling = steps - PrivateSteps;
        double[] fall = HierarchicalPlan.ThresholdSchedule(tau, falling);
        if (Shape != 1.0 && falling > 1)
        {
            for (int k = 0; k < falling; k++)
            {
                fall[k] = tau * Math.Pow((falling - 1 - k) / (double)(falling - 1), Shape);
            }
        }

        var phi = new double[steps];
        fall.CopyTo(phi, 0);
        return phi;
    }

    /// <summary>The last step at which a cluster can still be shared (phi &gt; 0 there for tau &gt; 0); -1 for none.</summary>
    public int LastSharedStep(int steps) => steps - PrivateSteps - 2;
}
