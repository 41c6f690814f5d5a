using HierDiff.Core.Clustering;

namespace HierDiff.Core.Planning;

/// <summary>
/// Finds tau from a cost target, so users can think in savings rather than in merge heights (which are not
/// portable between models). Savings never fall as tau rises, so a bisection over cheap call counts finds the
/// smallest tau whose plan saves at least the target.
/// </summary>
public static class TauSearch
{
    /// <param name="schedule">How phi falls; null: the paper's.</param>
    public static double SmallestTauForSavings(Linkage tree, int steps, double targetSavings, SplitSchedule? schedule = null)
    {
        schedule ??= SplitSchedule.Paper;
        if (!(targetSavings >= 0 && targetSavings < 1))
        {
            throw new HierDiffInputException($"target savings must be in [0, 1), not {targetSavings}");
        }

        long standard = (long)steps * tree.LeafCount;
        bool Enough(double tau) => 1.0 - ((double)HierarchicalPlan.CountDenoiserCalls(tree, tau, steps, schedule) / standard) >= targetSavings;

        if (Enough(0))
        {
            return 0;
        }

        // Doubling tau until every step that can share (all but the last L + 1, whose phi is 0) shares one
        // trajectory: the most possible.
        double rootScore = tree.Score(tree.Root);
        int lastShared = schedule.LastSharedStep(steps);
        double hi = Math.Max(rootScore * Math.Max(1, steps - 1) * (1 + 1e-9), double.Epsilon);
        while (!Enough(hi) && lastShared >= 0 && hi < double.MaxValue / 4 && schedule.Thresholds(hi, steps)[lastShared] < rootScore)
        {
            hi *= 2;
        }

        if (!Enough(hi))
        {
            long fewest = HierarchicalPlan.CountDenoiserCalls(tree, hi, steps, schedule);
            string own = schedule.PrivateSteps == 0 ? "its own last step" : $"its own last {schedule.PrivateSteps + 1} steps (private steps {schedule.PrivateSteps})";
            throw new HierDiffInputException(
                $"target savings {targetSavings:0.####} is out of reach: with {steps} steps this prompt set saves at most " +
                $"{1.0 - ((double)fewest / standard):0.####} (every prompt still needs {own})");
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
