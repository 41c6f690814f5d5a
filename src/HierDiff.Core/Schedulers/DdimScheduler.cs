using HierDiff.Core.Noise;

namespace HierDiff.Core.Schedulers;

/// <summary>
/// Deterministic DDIM sampling (eta = 0); mirrors diffusers <c>DDIMScheduler</c> (schedulers/scheduling_ddim.py).
/// Defaults as in diffusers: timestep_spacing leading, clip_sample true.
/// </summary>
public sealed class DdimScheduler : AlphaCumprodScheduler
{
    /// <summary>Its name in the <see cref="SchedulerRegistry"/>.</summary>
    public const string RegisteredName = "ddim";

    private readonly double finalAlphaCumprod;

    public DdimScheduler(SchedulerConfig config, int numInferenceSteps)
        : base(RegisteredName, WithDefaults(config, TimestepSpacing.Leading, clipSample: true, setAlphaToOne: true), numInferenceSteps)
    {
        finalAlphaCumprod = Config.SetAlphaToOne == true ? 1.0 : AlphaCumprod(0);
    }

    private protected override IEnumerable<string> FingerprintOptions => ["rescale_betas_zero_snr"];

    private protected override void StepCore(SchedulerState state, ReadOnlySpan<float> modelOutput, Span<float> sample, NoiseStream noise)
    {
        int t = Timestep(state.StepIndex);

        // diffusers steps back by T // K whatever the spacing; before 0 it uses final_alpha_cumprod.
        int prevT = t - (Config.NumTrainTimesteps / NumInferenceSteps);
        double alphaProdT = AlphaCumprod(t);
        double alphaProdPrev = prevT >= 0 ? AlphaCumprod(prevT) : finalAlphaCumprod;
        double betaProdT = 1 - alphaProdT;
        double sqrtAlphaProdT = Math.Sqrt(alphaProdT);
        double sqrtBetaProdT = Math.Sqrt(betaProdT);

        // eta = 0: no variance, so the direction to x_t has weight sqrt(1 - alpha_prod_prev) and no noise is drawn.
        double originalCoeff = Math.Sqrt(alphaProdPrev);
        double epsilonCoeff = Math.Sqrt(1 - alphaProdPrev);

        bool clip = Config.ClipSample == true;
        double range = Config.ClipSampleRange;
        var prediction = Config.PredictionType;
        for (int j = 0; j < sample.Length; j++)
        {
            double x = sample[j];
            double m = modelOutput[j];
            double original;
            double epsilon;
            switch (prediction)
            {
                case PredictionType.Epsilon:
                    original = (x - (sqrtBetaProdT * m)) / sqrtAlphaProdT;
                    epsilon = m;
                    break;
                case PredictionType.VPrediction:
                    original = (sqrtAlphaProdT * x) - (sqrtBetaProdT * m);
                    epsilon = (sqrtAlphaProdT * m) + (sqrtBetaProdT * x);
                    break;
                default:
                    original = m;
                    epsilon = (x - (sqrtAlphaProdT * original)) / sqrtBetaProdT;
                    break;
            }

            // Only x0 is clipped; diffusers keeps the unclipped epsilon (use_clipped_model_output false).
            if (clip)
            {
                original = Math.Clamp(original, -range, range);
            }

            sample[j] = (float)((originalCoeff * original) + (epsilonCoeff * epsilon));
        }
    }
}
