using HierDiff.Core.Noise;

namespace HierDiff.Core.Schedulers;

/// <summary>
/// Euler sampling of the probability-flow ODE in sigma space (Karras et al. 2022, algorithm 2 with s_churn 0);
/// mirrors diffusers <c>EulerDiscreteScheduler</c> (schedulers/scheduling_euler_discrete.py) with linear
/// interpolation, discrete timesteps and final sigma 0. Default timestep_spacing as in diffusers: linspace.
/// </summary>
public sealed class EulerDiscreteScheduler : DiffusionScheduler
{
    private readonly double[] timesteps;
    private readonly double[] sigmas;

    public EulerDiscreteScheduler(SchedulerConfig config, int numInferenceSteps)
        : base(SchedulerFactory.Euler, Resolve(config), numInferenceSteps)
    {
        timesteps = TimestepSchedule.Compute(
            Config.TimestepSpacing!.Value, Config.NumTrainTimesteps, NumInferenceSteps, Config.StepsOffset, roundLinspace: false);
        ValidateTimesteps(timesteps, mustIndexTraining: false);
        sigmas = TimestepSchedule.InterpolatedSigmas(timesteps, TimestepSchedule.TrainingSigmas(Config.ComputeAlphasCumprod()));

        // Leading spacing starts below the largest training sigma, so diffusers scales the initial noise up.
        double maxSigma = sigmas.Max();
        InitNoiseSigma = Config.TimestepSpacing == TimestepSpacing.Leading ? Math.Sqrt((maxSigma * maxSigma) + 1) : maxSigma;
    }

    public override IReadOnlyList<double> Timesteps => Array.AsReadOnly(timesteps);

    /// <summary>Sigma at each step index, and a final 0 (one more than the steps).</summary>
    public IReadOnlyList<double> Sigmas => Array.AsReadOnly(sigmas);

    public override double InitNoiseSigma { get; }

    /// <summary>Divides by sqrt(sigma^2 + 1), so the denoiser sees a unit-variance input.</summary>
    public override void ScaleModelInput(ReadOnlySpan<float> sample, Span<float> destination, int stepIndex)
    {
        CheckScaleArguments(sample, destination, stepIndex);
        double sigma = sigmas[stepIndex];
        double scale = Math.Sqrt((sigma * sigma) + 1);
        for (int j = 0; j < sample.Length; j++)
        {
            destination[j] = (float)(sample[j] / scale);
        }
    }

    private static SchedulerConfig Resolve(SchedulerConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return config with { TimestepSpacing = config.TimestepSpacing ?? TimestepSpacing.Linspace };
    }

    private protected override void StepCore(SchedulerState state, ReadOnlySpan<float> modelOutput, Span<float> sample, NoiseStream noise)
    {
        int i = state.StepIndex;
        double sigma = sigmas[i];
        double dt = sigmas[i + 1] - sigma;
        double variance = (sigma * sigma) + 1;
        double vOutputCoeff = -sigma / Math.Sqrt(variance);
        var prediction = Config.PredictionType;
        for (int j = 0; j < sample.Length; j++)
        {
            double x = sample[j];
            double m = modelOutput[j];
            double original = prediction switch
            {
                PredictionType.Epsilon => x - (sigma * m),
                PredictionType.VPrediction => (m * vOutputCoeff) + (x / variance),
                _ => m,
            };
            double derivative = (x - original) / sigma;
            sample[j] = (float)(x + (derivative * dt));
        }
    }
}
