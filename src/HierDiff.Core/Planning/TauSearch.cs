using HierDiff.Core.Clustering;

namespace HierDiff.Core.Planning;

/// <summary>
/// Finds tau from a cost target, so users can think in savings rather than in merge heights (which are not
/// portable between models). Savings never fall as tau rises, so a bisection over cheap call counts finds the
/// smallest tau whose plan saves at least the target.
/// </summary>
public static class TauSearch
{
    public static double SmallestTauForSavings(Linkage tree, int steps, double targetSavings)
    {
        if (!(targetSavings >= 0 && targetSavings < 1))
        {
            throw new HierDiffInputException($"target savings must be in [0, 1), not {targetSavings}");
        }

        long standard = (long)steps * tree.LeafCount;
        bool Enough(double tau) => 1.0 - ((double)HierarchicalPlan.CountDenoiserCalls(tree, tau, steps) / standard) >= targetSavings;

        if (Enough(0))
        {
            return 0;
        }

        // At this tau every step but the last (whose phi is always 0) shares one trajectory: the most possible.
        double rootScore = tree.Score(tree.Root);
        double hi = Math.Max(rootScore * Math.Max(1, steps - 1) * (1 + 1e-9), double.Epsilon);
        while (!Enough(hi) && hi < double.MaxValue / 4 && HierarchicalPlan.ThresholdSchedule(hi, steps)[Math.Max(0, steps - 2)] < rootScore)
        {
            hi *= 2;
        }

        if (!Enough(hi))
        {
            long fewest = HierarchicalPlan.CountDenoiserCalls(tree, hi, steps);
            throw new HierDiffInputException(
                $"target savings {targetSavings:0.####} is out of reach: with {steps} steps this prompt set saves at most " +
                $"{1.0 - ((double)fewest / standard):0.####} (every prompt still needs its own last step)");
        }

        double lo = 0;
        for (int i = 0; i < 200 && hi - lo > hi * 1e-12; i++)
        {
            double mid = lo + ((hi - lo) / 2);
            if (Enough(mid))
            {
                hi = mid;
            }
            else
            {
                lo = mid;
            }
        }

        return hi;
    }
}
