namespace HierDiff.Core.Schedulers;

/// <summary>
/// What the Euler samplers share (diffusers marks it "Copied from" between their files): timesteps by
/// timestep_spacing (linspace by default), sigma = sqrt((1 - alphabar) / alphabar) interpolated at each timestep
/// with a final 0, the initial noise scaled to the largest sigma, and the model input divided by sqrt(sigma^2 + 1).
/// </summary>
public abstract class SigmaScheduler : DiffusionScheduler
{
    private readonly double[] timesteps;
    private readonly double[] sigmas;

    private protected SigmaScheduler(string name, SchedulerConfig config, int numInferenceSteps)
        : base(name, WithDefaults(config, TimestepSpacing.Linspace), numInferenceSteps)
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

    private protected double Sigma(int index) => sigmas[index];
}
