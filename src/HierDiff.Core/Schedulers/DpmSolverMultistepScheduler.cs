using HierDiff.Core.Noise;

namespace HierDiff.Core.Schedulers;

/// <summary>
/// DPM-Solver++: multistep solver on the data prediction (Lu et al. 2022, "DPM-Solver++"); mirrors diffusers
/// <c>DPMSolverMultistepScheduler</c> (schedulers/scheduling_dpmsolver_multistep.py). algorithm_type dpmsolver++
/// (deterministic) or sde-dpmsolver++ (the 2M SDE: fresh noise every step), solver_order 1 to 3, solver_type midpoint
/// or heun, lower_order_final, euler_at_final, final_sigmas_type, use_karras_sigmas, rescale_betas_zero_snr.
/// Defaults as in diffusers: dpmsolver++, order 2, midpoint, timestep_spacing linspace.
/// </summary>
/// <remarks>
/// The state carries the previous steps' converted model outputs (x0 predictions), oldest first, in the array slots
/// (at most solver_order - 1 of them), and lower_order_nums in scalar slot 0: all the multistep formulas need from
/// earlier steps. Before the first step both are absent.
/// </remarks>
public sealed class DpmSolverMultistepScheduler : DiffusionScheduler
{
    /// <summary>Its name in the <see cref="SchedulerRegistry"/>.</summary>
    public const string RegisteredName = "dpm++2m";

    private const int LowerOrderNumsSlot = 0;

    private readonly double[] timesteps;
    private readonly double[] sigmas;
    private readonly int solverOrder;
    private readonly bool stochastic;
    private readonly bool heun;

    public DpmSolverMultistepScheduler(SchedulerConfig config, int numInferenceSteps)
        : base(RegisteredName, Resolve(config), numInferenceSteps)
    {
        solverOrder = Config.SolverOrder ?? 2;
        if (solverOrder > 3)
        {
            throw new HierDiffInputException(
                $"{Config.Source}: key 'solver_order' is {solverOrder}; scheduler {Name} supports: 1, 2, 3");
        }

        stochastic = Config.AlgorithmType == "sde-dpmsolver++";
        heun = Config.SolverType == "heun";

        double[] trainingSigmas = TimestepSchedule.TrainingSigmas(Config.ComputeSigmaAlphasCumprod());
        if (Config.UseKarrasSigmas == true)
        {
            // diffusers set_timesteps: Karras sigmas over the whole training range, at the nearest whole timesteps
            // (cut to whole timesteps, not rounded, for the cosine schedule).
            (double[] karras, double[] at) = MultistepMath.KarrasSigmas(trainingSigmas, NumInferenceSteps);
            bool cosine = Config.BetaSchedule == BetaSchedule.SquaredCosCapV2;
            timesteps = at.Select(t => cosine ? Math.Truncate(t) : NumPyMath.Round(t)).ToArray();
            sigmas = [.. karras, Config.FinalSigmasType == FinalSigmasType.SigmaMin ? trainingSigmas[0] : 0];
        }
        else
        {
            timesteps = TimestepSchedule.ComputeMultistep(Config, NumInferenceSteps);
            ValidateTimesteps(timesteps, mustIndexTraining: false);
            sigmas = MultistepMath.InterpolatedSigmas(Config, timesteps, trainingSigmas);
        }
    }

    public override IReadOnlyList<double> Timesteps => Array.AsReadOnly(timesteps);

    /// <summary>Sigma at each step index, and the final sigma (one more than the steps).</summary>
    public IReadOnlyList<double> Sigmas => Array.AsReadOnly(sigmas);

    private protected override IEnumerable<string> FingerprintOptions =>
        ["rescale_betas_zero_snr", "use_karras_sigmas", "final_sigmas_type", "algorithm_type", "solver_order",
         "solver_type", "lower_order_final", "euler_at_final"];

    /// <summary>diffusers lower_order_nums: how many earlier steps the multistep formula may use.</summary>
    public static int LowerOrderNums(SchedulerState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        return state.Scalars.Count > LowerOrderNumsSlot ? (int)state.Scalars[LowerOrderNumsSlot] : 0;
    }

    /// <summary>The previous step's x0 prediction; null before the first step (and always for solver_order 1).
    /// The array belongs to the state.</summary>
    public static float[]? PreviousX0(SchedulerState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        return state.Arrays.Count > 0 ? state.Arrays[^1] : null;
    }

    /// <summary>Fills in diffusers' defaults and checks the algorithm and solver type. As diffusers' constructor
    /// does, deis runs as dpmsolver++ and UniPC's or DEIS's solver types as midpoint. The defaults (dpmsolver++,
    /// midpoint) are left unset, as the base class leaves the other new options' defaults.</summary>
    private static SchedulerConfig Resolve(SchedulerConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        string algorithm = config.AlgorithmType ?? "dpmsolver++";
        if (algorithm == "deis" && config.FinalSigmasType != FinalSigmasType.SigmaMin)
        {
            // diffusers checks the name it was given, before it reads deis as dpmsolver++.
            throw new HierDiffInputException(
                $"{config.Source}: key 'final_sigmas_type' is {(config.FinalSigmasType is null ? "not set (zero)" : "'zero'")} "
                + $"with algorithm_type 'deis'; scheduler {RegisteredName} supports only sigma_min with it, as diffusers does");
        }

        algorithm = algorithm == "deis" ? "dpmsolver++" : algorithm;
        if (algorithm is not ("dpmsolver++" or "sde-dpmsolver++"))
        {
            throw new HierDiffInputException(
                $"{config.Source}: key 'algorithm_type' is '{algorithm}'; scheduler {RegisteredName} supports: "
                + "dpmsolver++, sde-dpmsolver++ (and deis, which diffusers runs as dpmsolver++)");
        }

        string solverType = config.SolverType ?? "midpoint";
        solverType = solverType is "logrho" or "bh1" or "bh2" ? "midpoint" : solverType;
        if (solverType is not ("midpoint" or "heun"))
        {
            throw new HierDiffInputException(
                $"{config.Source}: key 'solver_type' is '{solverType}'; scheduler {RegisteredName} supports: midpoint, heun "
                + "(and logrho, bh1, bh2, which diffusers runs as midpoint)");
        }

        return config with
        {
            TimestepSpacing = config.TimestepSpacing ?? TimestepSpacing.Linspace,
            AlgorithmType = algorithm == "dpmsolver++" ? null : algorithm,
            SolverType = solverType == "midpoint" ? null : solverType,
        };
    }

    private protected override void CheckStateShape(SchedulerState state, int sampleLength)
    {
        // The outputs the multistep formula may need, and the lower-order count the steps run give.
        int expectedArrays = Math.Min(state.StepIndex, solverOrder - 1);
        int expectedScalars = state.StepIndex == 0 ? 0 : 1;
        int expectedOrder = Math.Min(state.StepIndex, solverOrder);
        bool countOk = expectedScalars == 0 || state.Scalars[LowerOrderNumsSlot] == expectedOrder;
        if (state.Arrays.Count != expectedArrays || state.Scalars.Count != expectedScalars || !countOk)
        {
            throw new InvalidOperationException(
                $"The scheduler state is damaged: {Name} at step {state.StepIndex} needs {expectedArrays} previous "
                + $"outputs and lower-order count {expectedOrder}, not {state.Arrays.Count} outputs and "
                + $"{state.Scalars.Count} counts ({string.Join(", ", state.Scalars)}).");
        }

        foreach (float[] previous in state.Arrays)
        {
            if (previous.Length != sampleLength)
            {
                throw new ArgumentException(
                    $"The sample has {sampleLength} values but the state's previous model output has {previous.Length}.");
            }
        }
    }

    /// <summary>diffusers step: which order this step may use, the update, then the history.</summary>
    private protected override void StepCore(SchedulerState state, ReadOnlySpan<float> modelOutput, Span<float> sample, NoiseStream noise)
    {
        int i = state.StepIndex;
        int n = sample.Length;
        int steps = timesteps.Length;
        int lowerOrderNums = LowerOrderNums(state);

        // "Improve numerical stability for small number of steps": the last step (and with lower_order_final
        // under 15 steps the one before) drop to a lower order; with a final sigma of 0 the last is always first order.
        bool lowerOrderFinal = i == steps - 1
            && (Config.EulerAtFinal == true || (Config.LowerOrderFinal != false && steps < 15) || Config.FinalSigmasType != FinalSigmasType.SigmaMin);
        bool lowerOrderSecond = i == steps - 2 && Config.LowerOrderFinal != false && steps < 15;
        int order = solverOrder == 1 || lowerOrderNums < 1 || lowerOrderFinal ? 1
            : solverOrder == 2 || lowerOrderNums < 2 || lowerOrderSecond ? 2
            : 3;

        float[] converted = RentScratch(n);
        float[]? stepNoise = stochastic ? RentStepNoise(noise, i, n) : null;
        try
        {
            ConvertModelOutput(modelOutput, sample, sigmas[i], converted.AsSpan(0, n));
            List<float[]> previous = state.MutableArrays;
            switch (order)
            {
                case 1:
                    FirstOrderUpdate(i, converted.AsSpan(0, n), sample, stepNoise);
                    break;
                case 2:
                    SecondOrderUpdate(i, converted.AsSpan(0, n), previous[^1], sample, stepNoise);
                    break;
                default:
                    ThirdOrderUpdate(i, converted.AsSpan(0, n), previous[^1], previous[^2], sample, stepNoise);
                    break;
            }

            // Keep this step's x0 prediction for the steps after, reusing the oldest buffer once the history is full.
            if (solverOrder > 1)
            {
                float[] kept = previous.Count == solverOrder - 1 ? previous[0] : new float[n];
                if (previous.Count == solverOrder - 1)
                {
                    previous.RemoveAt(0);
                }

                converted.AsSpan(0, n).CopyTo(kept);
                previous.Add(kept);
            }

            int nums = Math.Min(lowerOrderNums + 1, solverOrder);
            if (state.Scalars.Count == 0)
            {
                state.MutableScalars.Add(nums);
            }

            state.MutableScalars[LowerOrderNumsSlot] = nums;
        }
        finally
        {
            ReturnScratch(converted);
            if (stepNoise is not null)
            {
                ReturnScratch(stepNoise);
            }
        }
    }

    /// <summary>The coefficients every order shares, from sigma_s0 = sigmas[i] to sigma_t = sigmas[i + 1].</summary>
    private (double AlphaT, double SigmaT, double SigmaS0, double H, double ExpNegH) Interval(int i)
    {
        var (_, sigmaS0, lambdaS0) = MultistepMath.AlphaSigmaLambda(sigmas[i]);
        var (alphaT, sigmaT, lambdaT) = MultistepMath.AlphaSigmaLambda(sigmas[i + 1]);

        // A final sigma of 0: lambda is +inf and exp(-h) is 0, so the step returns the x0 prediction.
        double h = lambdaT - lambdaS0;
        double expNegH = sigmas[i + 1] == 0 ? 0.0 : Math.Exp(-h);
        return (alphaT, sigmaT, sigmaS0, h, expNegH);
    }

    /// <summary>diffusers dpm_solver_first_order_update (DDIM, for dpmsolver++).</summary>
    private void FirstOrderUpdate(int i, ReadOnlySpan<float> m0, Span<float> sample, float[]? stepNoise)
    {
        var (alphaT, sigmaT, sigmaS0, _, expNegH) = Interval(i);
        if (stepNoise is null)
        {
            double sampleCoeff = sigmaT / sigmaS0;
            double outputCoeff = alphaT * (expNegH - 1.0);
            for (int j = 0; j < sample.Length; j++)
            {
                sample[j] = (float)((sampleCoeff * sample[j]) - (outputCoeff * m0[j]));
            }

            return;
        }

        double expNeg2H = expNegH * expNegH;
        double sdeSampleCoeff = sigmaT / sigmaS0 * expNegH;
        double sdeOutputCoeff = alphaT * (1 - expNeg2H);
        double noiseCoeff = sigmaT * Math.Sqrt(1.0 - expNeg2H);
        for (int j = 0; j < sample.Length; j++)
        {
            sample[j] = (float)((sdeSampleCoeff * sample[j]) + (sdeOutputCoeff * m0[j]) + (noiseCoeff * stepNoise[j]));
        }
    }

    /// <summary>diffusers multistep_dpm_solver_second_order_update (midpoint or heun) for dpmsolver++ and
    /// sde-dpmsolver++.</summary>
    private void SecondOrderUpdate(int i, ReadOnlySpan<float> m0, float[] m1, Span<float> sample, float[]? stepNoise)
    {
        var (alphaT, sigmaT, sigmaS0, h, expNegH) = Interval(i);
        var (_, _, lambdaS0) = MultistepMath.AlphaSigmaLambda(sigmas[i]);
        var (_, _, lambdaS1) = MultistepMath.AlphaSigmaLambda(sigmas[i - 1]);
        double r0 = (lambdaS0 - lambdaS1) / h;

        // x_t = a x + b D0 + c D1 (+ s noise), D0 = m0, D1 = (m0 - m1) / r0.
        double a;
        double b;
        double c;
        double s = 0;
        if (stepNoise is null)
        {
            a = sigmaT / sigmaS0;
            b = -(alphaT * (expNegH - 1.0));
            c = heun ? alphaT * (((expNegH - 1.0) / h) + 1.0) : -0.5 * (alphaT * (expNegH - 1.0));
        }
        else
        {
            double expNeg2H = expNegH * expNegH;
            a = sigmaT / sigmaS0 * expNegH;
            b = alphaT * (1 - expNeg2H);
            c = heun ? alphaT * (((1.0 - expNeg2H) / (-2.0 * h)) + 1.0) : 0.5 * (alphaT * (1 - expNeg2H));
            s = sigmaT * Math.Sqrt(1.0 - expNeg2H);
        }

        for (int j = 0; j < sample.Length; j++)
        {
            // In double: the difference of two floats, like every term here.
            double d1 = (1.0 / r0) * ((double)m0[j] - m1[j]);
            double next = (a * sample[j]) + (b * m0[j]) + (c * d1);
            if (stepNoise is not null)
            {
                next += s * stepNoise[j];
            }

            sample[j] = (float)next;
        }
    }

    /// <summary>diffusers multistep_dpm_solver_third_order_update for dpmsolver++ and sde-dpmsolver++.</summary>
    private void ThirdOrderUpdate(int i, ReadOnlySpan<float> m0, float[] m1, float[] m2, Span<float> sample, float[]? stepNoise)
    {
        var (alphaT, sigmaT, sigmaS0, h, expNegH) = Interval(i);
        var (_, _, lambdaS0) = MultistepMath.AlphaSigmaLambda(sigmas[i]);
        var (_, _, lambdaS1) = MultistepMath.AlphaSigmaLambda(sigmas[i - 1]);
        var (_, _, lambdaS2) = MultistepMath.AlphaSigmaLambda(sigmas[i - 2]);
        double r0 = (lambdaS0 - lambdaS1) / h;
        double r1 = (lambdaS1 - lambdaS2) / h;

        // x_t = a x + b D0 + c D1 + d D2 (+ s noise).
        double a;
        double b;
        double c;
        double d;
        double s = 0;
        if (stepNoise is null)
        {
            a = sigmaT / sigmaS0;
            b = -(alphaT * (expNegH - 1.0));
            c = alphaT * (((expNegH - 1.0) / h) + 1.0);
            d = -(alphaT * (((expNegH - 1.0 + h) / (h * h)) - 0.5));
        }
        else
        {
            double expNeg2H = expNegH * expNegH;
            a = sigmaT / sigmaS0 * expNegH;
            b = alphaT * (1.0 - expNeg2H);
            c = alphaT * (((1.0 - expNeg2H) / (-2.0 * h)) + 1.0);
            d = alphaT * (((1.0 - expNeg2H - (2.0 * h)) / ((2.0 * h) * (2.0 * h))) - 0.5);
            s = sigmaT * Math.Sqrt(1.0 - expNeg2H);
        }

        for (int j = 0; j < sample.Length; j++)
        {
            double d10 = (1.0 / r0) * ((double)m0[j] - m1[j]);
            double d11 = (1.0 / r1) * ((double)m1[j] - m2[j]);
            double d1 = d10 + ((r0 / (r0 + r1)) * (d10 - d11));
            double d2 = (1.0 / (r0 + r1)) * (d10 - d11);
            double next = (a * sample[j]) + (b * m0[j]) + (c * d1) + (d * d2);
            if (stepNoise is not null)
            {
                next += s * stepNoise[j];
            }

            sample[j] = (float)next;
        }
    }

    /// <summary>diffusers convert_model_output for dpmsolver++: the x0 prediction, rounded to float as diffusers
    /// keeps model outputs in the model's dtype.</summary>
    private void ConvertModelOutput(ReadOnlySpan<float> modelOutput, ReadOnlySpan<float> sample, double sigma, Span<float> x0)
    {
        var (alpha, sigmaT, _) = MultistepMath.AlphaSigmaLambda(sigma);
        var prediction = Config.PredictionType;
        for (int j = 0; j < x0.Length; j++)
        {
            double x = sample[j];
            double m = modelOutput[j];
            x0[j] = (float)MultistepMath.DataPrediction(prediction, x, m, alpha, sigmaT);
        }
    }
}
