using HierDiff.Core.Noise;

namespace HierDiff.Core.Schedulers;

/// <summary>
/// Euler steps of a rectified-flow model (Stable Diffusion 3 style): x_next = x + (sigma_next - sigma) * v;
/// mirrors diffusers <c>FlowMatchEulerDiscreteScheduler</c> (schedulers/scheduling_flow_match_euler_discrete.py)
/// without dynamic shifting. The denoiser predicts the velocity, so prediction_type is not used.
/// </summary>
public sealed class FlowMatchEulerScheduler : DiffusionScheduler
{
    /// <summary>Its name in the <see cref="SchedulerRegistry"/>.</summary>
    public const string RegisteredName = "flow-euler";

    private readonly double[] timesteps;
    private readonly double[] sigmas;

    public FlowMatchEulerScheduler(SchedulerConfig config, int numInferenceSteps)
        : base(RegisteredName, Check(config), numInferenceSteps)
    {
        int trainTimesteps = Config.NumTrainTimesteps;

        // Training sigmas are t / T for t = T..1, shifted; the schedule runs between the extremes of those.
        double sigmaMax = ShiftSigma(1.0);
        double sigmaMin = ShiftSigma(1.0 / trainTimesteps);

        // As diffusers: timesteps spaced between the shifted extremes, then converted to sigmas and shifted again.
        double[] spaced = NumPyMath.Linspace(sigmaMax * trainTimesteps, sigmaMin * trainTimesteps, NumInferenceSteps);
        timesteps = new double[NumInferenceSteps];
        sigmas = new double[NumInferenceSteps + 1];
        for (int i = 0; i < NumInferenceSteps; i++)
        {
            sigmas[i] = ShiftSigma(spaced[i] / trainTimesteps);
            timesteps[i] = sigmas[i] * trainTimesteps;
        }

        ValidateTimesteps(timesteps, mustIndexTraining: false);
    }

    public override IReadOnlyList<double> Timesteps => Array.AsReadOnly(timesteps);

    /// <summary>Sigma at each step index, and a final 0 (one more than the steps).</summary>
    public IReadOnlyList<double> Sigmas => Array.AsReadOnly(sigmas);

    private static SchedulerConfig Check(SchedulerConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return config;
    }

    /// <summary>shift * s / (1 + (shift - 1) * s): more of the schedule at high noise for shift above 1.</summary>
    private double ShiftSigma(double sigma) => Config.Shift * sigma / (1 + ((Config.Shift - 1) * sigma));

    private protected override void StepCore(SchedulerState state, ReadOnlySpan<float> modelOutput, Span<float> sample, NoiseStream noise)
    {
        int i = state.StepIndex;
        double dt = sigmas[i + 1] - sigmas[i];
        for (int j = 0; j < sample.Length; j++)
        {
            sample[j] = (float)(sample[j] + (dt * modelOutput[j]));
        }
    }
}
