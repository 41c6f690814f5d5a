using HierDiff.Core.Noise;

namespace HierDiff.Core.Schedulers;

/// <summary>
/// Euler steps with ancestral noise: each step goes down to sigma_down and adds fresh noise of sigma_up;
/// mirrors diffusers <c>EulerAncestralDiscreteScheduler</c> (schedulers/scheduling_euler_ancestral_discrete.py).
/// Default timestep_spacing as in diffusers: linspace. Like diffusers, supports epsilon and v_prediction only.
/// </summary>
public sealed class EulerAncestralScheduler : SigmaScheduler
{
    /// <summary>Its name in the <see cref="SchedulerRegistry"/>.</summary>
    public const string RegisteredName = "euler-ancestral";

    public EulerAncestralScheduler(SchedulerConfig config, int numInferenceSteps)
        : base(RegisteredName, config, numInferenceSteps, SigmaOptions.RescaleBetasZeroSnr)
    {
        if (Config.PredictionType == PredictionType.Sample)
        {
            throw new HierDiffInputException(
                $"{Config.Source}: key 'prediction_type' is 'sample'; scheduler {Name} supports: epsilon, v_prediction");
        }
    }

    private protected override void StepCore(SchedulerState state, ReadOnlySpan<float> modelOutput, Span<float> sample, NoiseStream noise)
    {
        int i = state.StepIndex;
        double sigmaFrom = Sigma(i);
        double sigmaTo = Sigma(i + 1);
        double sigmaUp = Math.Sqrt(sigmaTo * sigmaTo * ((sigmaFrom * sigmaFrom) - (sigmaTo * sigmaTo)) / (sigmaFrom * sigmaFrom));

        // Never negative in exact arithmetic; the clamp keeps rounding from producing NaN.
        double sigmaDown = Math.Sqrt(Math.Max((sigmaTo * sigmaTo) - (sigmaUp * sigmaUp), 0));
        double dt = sigmaDown - sigmaFrom;
        double variance = (sigmaFrom * sigmaFrom) + 1;
        double vOutputCoeff = -sigmaFrom / Math.Sqrt(variance);
        bool epsilon = Config.PredictionType == PredictionType.Epsilon;

        // The last step has sigma_up 0: no noise is needed, and none is drawn.
        float[]? rented = sigmaUp > 0 ? RentStepNoise(noise, i, sample.Length) : null;
        try
        {
            for (int j = 0; j < sample.Length; j++)
            {
                double x = sample[j];
                double m = modelOutput[j];
                double original = epsilon ? x - (sigmaFrom * m) : (m * vOutputCoeff) + (x / variance);
                double derivative = (x - original) / sigmaFrom;
                double previous = x + (derivative * dt);
                if (rented is not null)
                {
                    previous += rented[j] * sigmaUp;
                }

                sample[j] = (float)previous;
            }
        }
        finally
        {
            if (rented is not null)
            {
                ReturnScratch(rented);
            }
        }
    }
}
