using HierDiff.Core.Noise;

namespace HierDiff.Core.Schedulers;

/// <summary>
/// Euler sampling of the probability-flow ODE in sigma space (Karras et al. 2022, algorithm 2 with s_churn 0);
/// mirrors diffusers <c>EulerDiscreteScheduler</c> (schedulers/scheduling_euler_discrete.py) with linear
/// interpolation and discrete timesteps. Default timestep_spacing as in diffusers: linspace.
/// </summary>
public sealed class EulerDiscreteScheduler : SigmaScheduler
{
    /// <summary>Its name in the <see cref="SchedulerRegistry"/>.</summary>
    public const string RegisteredName = "euler";

    public EulerDiscreteScheduler(SchedulerConfig config, int numInferenceSteps)
        : base(RegisteredName, config, numInferenceSteps, SigmaOptions.RescaleBetasZeroSnr | SigmaOptions.KarrasSigmas | SigmaOptions.FinalSigmasType)
    {
    }

    private protected override void StepCore(SchedulerState state, ReadOnlySpan<float> modelOutput, Span<float> sample, NoiseStream noise)
    {
        int i = state.StepIndex;
        double sigma = Sigma(i);
        double dt = Sigma(i + 1) - sigma;
        double variance = (sigma * sigma) + 1;
        double vOutputCoeff = -sigma / Math.Sqrt(variance);
        var prediction = Config.PredictionType;
        for (int j = 0; j < sample.Length; j++)
        {
            double x = sample[j];
            double m = modelOutput[j];
            double original = PredictedOriginal(prediction, x, m, sigma, variance, vOutputCoeff);
            double derivative = (x - original) / sigma;
            sample[j] = (float)(x + (derivative * dt));
        }
    }
}
