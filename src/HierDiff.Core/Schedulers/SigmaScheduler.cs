namespace HierDiff.Core.Schedulers;

/// <summary>
/// What the Euler samplers and LMS share (diffusers marks it "Copied from" between their files): timesteps by
/// timestep_spacing (linspace by default), sigma = sqrt((1 - alphabar) / alphabar) interpolated at each timestep
/// with a final 0, the initial noise scaled to the largest sigma, and the model input divided by sqrt(sigma^2 + 1).
/// Where the diffusers class takes them (<see cref="SigmaOptions"/>): Karras sigmas, final_sigmas_type and
/// rescale_betas_zero_snr.
/// </summary>
public abstract class SigmaScheduler : DiffusionScheduler
{
    private readonly double[] timesteps;
    private readonly double[] sigmas;

    private protected SigmaScheduler(string name, SchedulerConfig config, int numInferenceSteps, SigmaOptions options = SigmaOptions.None)
        : base(name, Resolve(config, options), numInferenceSteps)
    {
        TakenOptions = options;
        timesteps = TimestepSchedule.Compute(
            Config.TimestepSpacing!.Value, Config.NumTrainTimesteps, NumInferenceSteps, Config.StepsOffset, roundLinspace: false);
        ValidateTimesteps(timesteps, mustIndexTraining: false);
        double[] alphasCumprod = Config.ComputeSigmaAlphasCumprod();
        double[] trainingSigmas = TimestepSchedule.TrainingSigmas(alphasCumprod);
        sigmas = TimestepSchedule.InterpolatedSigmas(timesteps, trainingSigmas);
        if (Config.UseKarrasSigmas == true)
        {
            // diffusers set_timesteps: Karras sigmas between the schedule's own extremes, and the (fractional,
            // float32) timesteps they fall on.
            double[] karras = TimestepSchedule.KarrasSigmas(sigmas[NumInferenceSteps - 1], sigmas[0], NumInferenceSteps);
            double[] logSigmas = trainingSigmas.Select(s => Math.Log(s)).ToArray();
            for (int i = 0; i < NumInferenceSteps; i++)
            {
                sigmas[i] = karras[i];
                timesteps[i] = (float)TimestepSchedule.SigmaToTimestep(karras[i], logSigmas);
            }
        }

        if (Config.FinalSigmasType == FinalSigmasType.SigmaMin)
        {
            sigmas[^1] = trainingSigmas[0];
        }

        // Leading spacing starts below the largest training sigma, so diffusers scales the initial noise up.
        double maxSigma = sigmas.Max();
        InitNoiseSigma = Config.TimestepSpacing == TimestepSpacing.Leading ? Math.Sqrt((maxSigma * maxSigma) + 1) : maxSigma;
    }

    /// <summary>The options of this section a diffusers class takes; the others it ignores.</summary>
    [Flags]
    private protected enum SigmaOptions
    {
        None = 0,
        RescaleBetasZeroSnr = 1,
        KarrasSigmas = 2,
        FinalSigmasType = 4,
    }

    public override IReadOnlyList<double> Timesteps => Array.AsReadOnly(timesteps);

    /// <summary>Sigma at each step index, and a final 0 (one more than the steps).</summary>
    public IReadOnlyList<double> Sigmas => Array.AsReadOnly(sigmas);

    public override double InitNoiseSigma { get; }

    private protected override IEnumerable<string> FingerprintOptions => OptionKeys(TakenOptions);

    private SigmaOptions TakenOptions { get; }

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

    private static IEnumerable<string> OptionKeys(SigmaOptions options)
    {
        if (options.HasFlag(SigmaOptions.RescaleBetasZeroSnr))
        {
            yield return "rescale_betas_zero_snr";
        }

        if (options.HasFlag(SigmaOptions.KarrasSigmas))
        {
            yield return "use_karras_sigmas";
        }

        if (options.HasFlag(SigmaOptions.FinalSigmasType))
        {
            yield return "final_sigmas_type";
        }
    }

    /// <summary>Fills in the default spacing and clears the options the class does not take, as diffusers ignores them.</summary>
    private static SchedulerConfig Resolve(SchedulerConfig config, SigmaOptions options)
    {
        ArgumentNullException.ThrowIfNull(config);
        return config with
        {
            TimestepSpacing = config.TimestepSpacing ?? TimestepSpacing.Linspace,
            RescaleBetasZeroSnr = options.HasFlag(SigmaOptions.RescaleBetasZeroSnr) ? config.RescaleBetasZeroSnr : null,
            UseKarrasSigmas = options.HasFlag(SigmaOptions.KarrasSigmas) ? config.UseKarrasSigmas : null,
            FinalSigmasType = options.HasFlag(SigmaOptions.FinalSigmasType) ? config.FinalSigmasType : null,
        };
    }

    /// <summary>diffusers' pred_original_sample for a sigma-space sample: epsilon x - sigma m, v-prediction
    /// m (-sigma / sqrt(sigma^2 + 1)) + x / (sigma^2 + 1), sample m. The two v coefficients are passed in so that a
    /// step computes them once.</summary>
    private protected static double PredictedOriginal(PredictionType prediction, double x, double m, double sigma, double variance, double vOutputCoeff) =>
        prediction switch
        {
            PredictionType.Epsilon => x - (sigma * m),
            PredictionType.VPrediction => (m * vOutputCoeff) + (x / variance),
            _ => m,
        };
}
