using HierDiff.Core.Noise;

namespace HierDiff.Core.Schedulers;

/// <summary>
/// DPM-Solver++(2M): second-order multistep solver on the data prediction (Lu et al. 2022); mirrors diffusers
/// <c>DPMSolverMultistepScheduler</c> (schedulers/scheduling_dpmsolver_multistep.py) with algorithm_type
/// dpmsolver++, solver_order 2, solver_type midpoint, lower_order_final true and final_sigmas_type zero.
/// Default timestep_spacing as in diffusers: linspace.
/// </summary>
/// <remarks>
/// The state carries the previous step's converted model output (x0 prediction) in array slot 0 and
/// lower_order_nums in scalar slot 0, which is all the multistep formula needs from earlier steps. Before the
/// first step both slots are absent.
/// </remarks>
public sealed class DpmSolverMultistepScheduler : DiffusionScheduler
{
    /// <summary>Its name in the <see cref="SchedulerRegistry"/>.</summary>
    public const string RegisteredName = "dpm++2m";

    private const int SolverOrder = 2;
    private const int PreviousX0Slot = 0;
    private const int LowerOrderNumsSlot = 0;

    private readonly double[] timesteps;
    private readonly double[] sigmas;

    public DpmSolverMultistepScheduler(SchedulerConfig config, int numInferenceSteps)
        : base(RegisteredName, WithDefaults(config, TimestepSpacing.Linspace), numInferenceSteps)
    {
        timesteps = ComputeTimesteps(Config, NumInferenceSteps);
        ValidateTimesteps(timesteps, mustIndexTraining: false);
        sigmas = TimestepSchedule.InterpolatedSigmas(timesteps, TimestepSchedule.TrainingSigmas(Config.ComputeAlphasCumprod()));
    }

    public override IReadOnlyList<double> Timesteps => Array.AsReadOnly(timesteps);

    /// <summary>Sigma at each step index, and a final 0 (one more than the steps).</summary>
    public IReadOnlyList<double> Sigmas => Array.AsReadOnly(sigmas);

    /// <summary>diffusers lower_order_nums: how many earlier steps the multistep formula may use.</summary>
    public static int LowerOrderNums(SchedulerState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        return state.Scalars.Count > LowerOrderNumsSlot ? (int)state.Scalars[LowerOrderNumsSlot] : 0;
    }

    /// <summary>The previous step's x0 prediction; null before the first step. The array belongs to the state.</summary>
    public static float[]? PreviousX0(SchedulerState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        return state.Arrays.Count > PreviousX0Slot ? state.Arrays[PreviousX0Slot] : null;
    }

    /// <summary>DPM-Solver spaces K + 1 points and drops the last (t = 0), except for trailing spacing.</summary>
    private static double[] ComputeTimesteps(SchedulerConfig config, int steps)
    {
        int trainTimesteps = config.NumTrainTimesteps;
        var values = new double[steps];
        switch (config.TimestepSpacing)
        {
            case TimestepSpacing.Linspace:
                {
                    // np.linspace(0, T - 1, K + 1).round()[::-1][:-1]
                    double[] points = NumPyMath.Linspace(0, trainTimesteps - 1, steps + 1);
                    for (int i = 0; i < steps; i++)
                    {
                        values[i] = NumPyMath.Round(points[steps - i]);
                    }

                    return values;
                }

            case TimestepSpacing.Leading:
                {
                    // (np.arange(0, K + 1) * (T // (K + 1))).round()[::-1][:-1] + steps_offset
                    int ratio = trainTimesteps / (steps + 1);
                    for (int i = 0; i < steps; i++)
                    {
                        values[i] = ((double)(steps - i) * ratio) + config.StepsOffset;
                    }

                    return values;
                }

            default:
                return TimestepSchedule.Compute(TimestepSpacing.Trailing, trainTimesteps, steps, config.StepsOffset, roundLinspace: true);
        }
    }

    private protected override void CheckStateShape(SchedulerState state, int sampleLength)
    {
        // One slot of each kind after the first step, none before; the count must be what the steps run give.
        int expectedSlots = state.StepIndex == 0 ? 0 : 1;
        int expectedOrder = Math.Min(state.StepIndex, SolverOrder);
        bool countOk = expectedSlots == 0 || state.Scalars[LowerOrderNumsSlot] == expectedOrder;
        if (state.Arrays.Count != expectedSlots || state.Scalars.Count != expectedSlots || !countOk)
        {
            throw new InvalidOperationException(
                $"The scheduler state is damaged: {Name} at step {state.StepIndex} needs {expectedSlots} previous "
                + $"output and lower-order count {expectedOrder}, not {state.Arrays.Count} outputs and "
                + $"{state.Scalars.Count} counts ({string.Join(", ", state.Scalars)}).");
        }

        if (expectedSlots == 1 && state.Arrays[PreviousX0Slot].Length != sampleLength)
        {
            throw new ArgumentException(
                $"The sample has {sampleLength} values but the state's previous model output has {state.Arrays[PreviousX0Slot].Length}.");
        }
    }

    private protected override void StepCore(SchedulerState state, ReadOnlySpan<float> modelOutput, Span<float> sample, NoiseStream noise)
    {
        int i = state.StepIndex;
        int n = sample.Length;

        // final_sigmas_type "zero" makes the last step first order. (lower_order_final with K < 15 also caps the
        // second-to-last step at order 2, which changes nothing for solver_order 2.)
        bool lowerOrderFinal = i == NumInferenceSteps - 1;
        bool firstOrder = LowerOrderNums(state) < 1 || lowerOrderFinal;

        var (alphaS0, sigmaS0, lambdaS0) = AlphaSigmaLambda(sigmas[i]);
        var (alphaT, sigmaT, lambdaT) = AlphaSigmaLambda(sigmas[i + 1]);

        // The last sigma is 0: lambda is +inf and exp(-h) is 0, so the step returns the x0 prediction.
        double h = lambdaT - lambdaS0;
        double expNegH = sigmas[i + 1] == 0 ? 0.0 : Math.Exp(-h);
        double sampleCoeff = sigmaT / sigmaS0;
        double outputCoeff = alphaT * (expNegH - 1.0);

        float[] converted = RentScratch(n);
        try
        {
            ConvertModelOutput(modelOutput, sample, sigmas[i], converted.AsSpan(0, n));
            if (firstOrder)
            {
                for (int j = 0; j < n; j++)
                {
                    sample[j] = (float)((sampleCoeff * sample[j]) - (outputCoeff * converted[j]));
                }
            }
            else
            {
                var (_, _, lambdaS1) = AlphaSigmaLambda(sigmas[i - 1]);
                double r0 = (lambdaS0 - lambdaS1) / h;
                float[] previous = state.Arrays[PreviousX0Slot];
                for (int j = 0; j < n; j++)
                {
                    double m0 = converted[j];
                    double d1 = (1.0 / r0) * (m0 - previous[j]);
                    sample[j] = (float)((sampleCoeff * sample[j]) - (outputCoeff * m0) - (0.5 * outputCoeff * d1));
                }
            }

            // Keep this step's x0 prediction for the next step, reusing the state's buffer after the first step.
            int order = Math.Min(LowerOrderNums(state) + 1, SolverOrder);
            if (state.Arrays.Count == 0)
            {
                state.MutableArrays.Add(new float[n]);
                state.MutableScalars.Add(order);
            }

            converted.AsSpan(0, n).CopyTo(state.MutableArrays[PreviousX0Slot]);
            state.MutableScalars[LowerOrderNumsSlot] = order;
        }
        finally
        {
            ReturnScratch(converted);
        }
    }

    /// <summary>diffusers convert_model_output for dpmsolver++: the x0 prediction, rounded to float as diffusers
    /// keeps model outputs in the model's dtype.</summary>
    private void ConvertModelOutput(ReadOnlySpan<float> modelOutput, ReadOnlySpan<float> sample, double sigma, Span<float> x0)
    {
        var (alpha, sigmaT, _) = AlphaSigmaLambda(sigma);
        var prediction = Config.PredictionType;
        for (int j = 0; j < x0.Length; j++)
        {
            double x = sample[j];
            double m = modelOutput[j];
            x0[j] = (float)(prediction switch
            {
                PredictionType.Epsilon => (x - (sigmaT * m)) / alpha,
                PredictionType.VPrediction => (alpha * x) - (sigmaT * m),
                _ => m,
            });
        }
    }

    /// <summary>alpha_t = 1 / sqrt(sigma^2 + 1), sigma_t = sigma * alpha_t, lambda = log(alpha_t) - log(sigma_t).</summary>
    private static (double Alpha, double Sigma, double Lambda) AlphaSigmaLambda(double sigma)
    {
        double alpha = 1.0 / Math.Sqrt((sigma * sigma) + 1);
        double sigmaT = sigma * alpha;
        return (alpha, sigmaT, Math.Log(alpha) - Math.Log(sigmaT));
    }
}
