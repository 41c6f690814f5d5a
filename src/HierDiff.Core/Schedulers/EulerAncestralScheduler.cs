using HierDiff.Core.Noise;

namespace HierDiff.Core.Schedulers;

/// <summary>
/// Euler steps with ancestral noise: each step goes down to sigma_down and adds fresh noise of sigma_up;
/// mirrors diffusers <c>EulerAncestralDiscreteScheduler</c> (schedulers/scheduling_euler_ancestral_discrete.py).
/// Default timestep_spacing as in diffusers: linspace. Like diffusers, supports epsilon and v_prediction only.
/// </summary>
public sealed class EulerAncestralScheduler : DiffusionScheduler
{
    private readonly double[] timesteps;
    private readonly double[] sigmas;

    public EulerAncestralScheduler(SchedulerConfig config, int numInferenceSteps)
        : base(SchedulerFactory.EulerAncestral, Resolve(config), numInferenceSteps)
    {
        if (Config.PredictionType == PredictionType.Sample)
        {
            throw new HierDiffInputException(
                $"{Config.Source}: key 'prediction_type' is 'sample'; scheduler {Name} supports: epsilon, v_prediction");
        }

        timesteps = TimestepSchedule.Compute(
            Config.TimestepSpacing!.Value, Config.NumTrainTimesteps, NumInferenceSteps, Config.StepsOffset, roundLinspace: false);
        ValidateTimesteps(timesteps, mustIndexTraining: false);
        sigmas = TimestepSchedule.InterpolatedSigmas(timesteps, TimestepSchedule.TrainingSigmas(Config.ComputeAlphasCumprod()));
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
        double sigmaFrom = sigmas[i];
        double sigmaTo = sigmas[i + 1];
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
