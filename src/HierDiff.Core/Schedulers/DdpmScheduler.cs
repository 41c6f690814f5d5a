using HierDiff.Core.Noise;

namespace HierDiff.Core.Schedulers;

/// <summary>
/// Ancestral DDPM sampling; mirrors diffusers <c>DDPMScheduler</c> (schedulers/scheduling_ddpm.py) with
/// variance_type "fixed_small". Defaults as in diffusers: timestep_spacing leading, clip_sample true.
/// </summary>
public sealed class DdpmScheduler : AlphaCumprodScheduler
{
    /// <summary>Its name in the <see cref="SchedulerRegistry"/>.</summary>
    public const string RegisteredName = "ddpm";

    public DdpmScheduler(SchedulerConfig config, int numInferenceSteps)
        : base(RegisteredName, WithDefaults(config, TimestepSpacing.Leading, clipSample: true), numInferenceSteps)
    {
    }

    private protected override IEnumerable<string> FingerprintOptions => ["rescale_betas_zero_snr"];

    private protected override void StepCore(SchedulerState state, ReadOnlySpan<float> modelOutput, Span<float> sample, NoiseStream noise)
    {
        int i = state.StepIndex;
        int t = Timestep(i);

        // diffusers previous_timestep: the next timestep of the schedule, -1 after the last (alpha_prod 1).
        int prevT = i + 1 < NumInferenceSteps ? Timestep(i + 1) : -1;
        double alphaProdT = AlphaCumprod(t);
        double alphaProdPrev = prevT >= 0 ? AlphaCumprod(prevT) : 1.0;
        double betaProdT = 1 - alphaProdT;
        double betaProdPrev = 1 - alphaProdPrev;
        double currentAlpha = alphaProdT / alphaProdPrev;
        double currentBeta = 1 - currentAlpha;

        double sqrtAlphaProdT = Math.Sqrt(alphaProdT);
        double sqrtBetaProdT = Math.Sqrt(betaProdT);

        // Formula (7) of the DDPM paper: the posterior mean from x0 and x_t.
        double originalCoeff = Math.Sqrt(alphaProdPrev) * currentBeta / betaProdT;
        double sampleCoeff = Math.Sqrt(currentAlpha) * betaProdPrev / betaProdT;

        bool clip = Config.ClipSample == true;
        double range = Config.ClipSampleRange;
        var prediction = Config.PredictionType;

        // No noise at t = 0, as in diffusers.
        bool addNoise = t > 0;
        double std = addNoise ? Math.Sqrt(Math.Max(betaProdPrev / betaProdT * currentBeta, 1e-20)) : 0;
        float[]? rented = addNoise ? RentStepNoise(noise, i, sample.Length) : null;
        try
        {
            for (int j = 0; j < sample.Length; j++)
            {
                double x = sample[j];
                double original = PredictOriginal(prediction, x, modelOutput[j], sqrtAlphaProdT, sqrtBetaProdT);
                if (clip)
                {
                    original = Math.Clamp(original, -range, range);
                }

                double previous = (originalCoeff * original) + (sampleCoeff * x);
                if (rented is not null)
                {
                    previous += std * rented[j];
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
