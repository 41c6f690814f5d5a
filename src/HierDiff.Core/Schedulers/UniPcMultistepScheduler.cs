using HierDiff.Core.Noise;

namespace HierDiff.Core.Schedulers;

/// <summary>
/// UniPC: a multistep predictor (UniP) with a corrector (UniC) that reuses each step's model output (Zhao et al.
/// 2023, "UniPC: A Unified Predictor-Corrector Framework for Fast Sampling of Diffusion Models"); mirrors diffusers
/// <c>UniPCMultistepScheduler</c> (schedulers/scheduling_unipc_multistep.py) without solver_p. Options: solver_order
/// 1 to 3, solver_type bh1 or bh2, predict_x0, lower_order_final, disable_corrector, use_karras_sigmas,
/// final_sigmas_type, rescale_betas_zero_snr. Defaults as in diffusers: order 2, bh2, predict_x0 true,
/// timestep_spacing linspace.
/// </summary>
/// <remarks>
/// <para>Step i first corrects the sample the previous step predicted, from that step's starting sample
/// (last_sample) and the model output at the predicted sample, then predicts the next sample.</para>
/// <para>The state keeps diffusers' model_outputs (converted outputs, oldest first, at most solver_order) and then
/// last_sample, in its array slots; empty before the first step. The orders diffusers keeps (lower_order_nums,
/// this_order) follow from the step index, and timestep_list is only read by solver_p.</para>
/// </remarks>
public sealed class UniPcMultistepScheduler : DiffusionScheduler
{
    /// <summary>Its name in the <see cref="SchedulerRegistry"/>.</summary>
    public const string RegisteredName = "unipc";

    private readonly double[] timesteps;
    private readonly double[] sigmas;
    private readonly int solverOrder;
    private readonly bool bh1;
    private readonly bool predictX0;
    private readonly HashSet<int> disableCorrector;

    public UniPcMultistepScheduler(SchedulerConfig config, int numInferenceSteps)
        : base(RegisteredName, Resolve(config), numInferenceSteps)
    {
        solverOrder = Config.SolverOrder ?? 2;
        if (solverOrder > 3)
        {
            throw new HierDiffInputException(
                $"{Config.Source}: key 'solver_order' is {solverOrder}; scheduler {Name} supports: 1, 2, 3");
        }

        bh1 = Config.SolverType == "bh1";
        if (bh1 && Config.FinalSigmasType != FinalSigmasType.SigmaMin)
        {
            // The last step goes to sigma 0, where B(h) = h is -inf: diffusers multiplies it by a zero residual and
            // returns NaN. Refused rather than run into a non-finite latent.
            throw new HierDiffInputException(
                $"{Config.Source}: key 'solver_type' is 'bh1' with final_sigmas_type zero, whose last step diffusers "
                + $"computes as NaN; scheduler {Name} supports bh1 only with final_sigmas_type sigma_min (or use bh2)");
        }

        predictX0 = Config.PredictX0 != false;
        disableCorrector = [.. Config.DisableCorrector ?? []];

        double[] trainingSigmas = TimestepSchedule.TrainingSigmas(Config.ComputeSigmaAlphasCumprod());
        if (Config.UseKarrasSigmas == true)
        {
            // diffusers set_timesteps: Karras sigmas over the whole training range, at the nearest whole timesteps;
            // sigma_min ends on the last of them.
            (double[] karras, double[] at) = MultistepMath.KarrasSigmas(trainingSigmas, NumInferenceSteps);
            timesteps = at.Select(NumPyMath.Round).ToArray();
            sigmas = [.. karras, Config.FinalSigmasType == FinalSigmasType.SigmaMin ? karras[^1] : 0];
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
        ["rescale_betas_zero_snr", "use_karras_sigmas", "final_sigmas_type", "solver_order", "solver_type",
         "lower_order_final", "predict_x0", "disable_corrector"];

    /// <summary>Fills in diffusers' defaults and checks the solver type; as diffusers' constructor does, DPM-Solver's
    /// solver types run as bh2. The default, bh2, is left unset, as the base class leaves the other new options'.</summary>
    private static SchedulerConfig Resolve(SchedulerConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        string solverType = config.SolverType ?? "bh2";
        solverType = solverType is "midpoint" or "heun" or "logrho" ? "bh2" : solverType;
        if (solverType is not ("bh1" or "bh2"))
        {
            throw new HierDiffInputException(
                $"{config.Source}: key 'solver_type' is '{solverType}'; scheduler {RegisteredName} supports: bh1, bh2 "
                + "(and midpoint, heun, logrho, which diffusers runs as bh2)");
        }

        return config with
        {
            TimestepSpacing = config.TimestepSpacing ?? TimestepSpacing.Linspace,
            SolverType = solverType == "bh2" ? null : solverType,
        };
    }

    /// <summary>diffusers this_order at step <paramref name="i"/>: solver_order, lower near the end with
    /// lower_order_final, and at most one more than the steps before ("warmup for multistep").</summary>
    private int ThisOrder(int i)
    {
        int order = Config.LowerOrderFinal != false ? Math.Min(solverOrder, timesteps.Length - i) : solverOrder;
        return Math.Min(order, Math.Min(i, solverOrder) + 1);
    }

    private protected override void CheckStateShape(SchedulerState state, int sampleLength)
    {
        int expected = state.StepIndex == 0 ? 0 : Math.Min(state.StepIndex, solverOrder) + 1;
        if (state.Arrays.Count != expected || state.Scalars.Count != 0)
        {
            throw new InvalidOperationException(
                $"The scheduler state is damaged: {Name} at step {state.StepIndex} needs {expected} saved arrays (model "
                + $"outputs and last_sample) and no numbers, not {state.Arrays.Count} arrays and {state.Scalars.Count} numbers.");
        }

        foreach (float[] array in state.Arrays)
        {
            if (array.Length != sampleLength)
            {
                throw new ArgumentException(
                    $"The sample has {sampleLength} values but the state's saved arrays have {array.Length}.");
            }
        }
    }

    /// <summary>diffusers step: the corrector, the history, then the predictor.</summary>
    private protected override void StepCore(SchedulerState state, ReadOnlySpan<float> modelOutput, Span<float> sample, NoiseStream noise)
    {
        int i = state.StepIndex;
        int n = sample.Length;
        List<float[]> slots = state.MutableArrays;
        float[] scratch = RentScratch(n);
        Span<float> converted = scratch.AsSpan(0, n);
        ConvertModelOutput(modelOutput, sample, sigmas[i], converted);

        // slots: the outputs of earlier steps, oldest first, then last_sample.
        float[]? lastSample = null;
        if (i > 0)
        {
            lastSample = slots[^1];
            slots.RemoveAt(slots.Count - 1);
            if (!disableCorrector.Contains(i - 1))
            {
                Correct(i, converted, slots, lastSample, sample, ThisOrder(i - 1));
            }
        }

        // This step's output joins the history, in the oldest array once the history is full (no allocation).
        float[] kept = slots.Count == solverOrder ? slots[0] : new float[n];
        if (slots.Count == solverOrder)
        {
            slots.RemoveAt(0);
        }

        converted.CopyTo(kept);
        ReturnScratch(scratch);
        slots.Add(kept);

        // last_sample: the (corrected) sample this step starts from; the next step corrects from it.
        lastSample ??= new float[n];
        sample.CopyTo(lastSample);
        Predict(i, slots, sample, ThisOrder(i));
        slots.Add(lastSample);
    }

    /// <summary>diffusers multistep_uni_p_bh_update: from sigmas[i] to sigmas[i + 1] with the last
    /// <paramref name="order"/> outputs (the newest is this step's).</summary>
    private void Predict(int i, List<float[]> outputs, Span<float> sample, int order)
    {
        float[] m0 = outputs[^1];
        var (alphaT, sigmaT, lambdaT) = MultistepMath.AlphaSigmaLambda(sigmas[i + 1]);
        var (alphaS0, sigmaS0, lambdaS0) = MultistepMath.AlphaSigmaLambda(sigmas[i]);
        double h = lambdaT - lambdaS0;

        // rk and D1 of each earlier output, k steps back.
        double[] rks = new double[order];
        for (int k = 1; k < order; k++)
        {
            rks[k - 1] = (MultistepMath.AlphaSigmaLambda(sigmas[i - k]).Lambda - lambdaS0) / h;
        }

        rks[order - 1] = 1;
        var (hPhi1, bH, b, r) = Coefficients(h, rks);

        // rhos_p: none for order 1, 1/2 for order 2, else R[:-1, :-1] rhos = b[:-1]; float, as diffusers casts it.
        double[] rhos = order switch
        {
            1 => [],
            2 => [0.5],
            _ => ToFloat(Solve(r, b, order - 1)),
        };

        double sampleCoeff = predictX0 ? sigmaT / sigmaS0 : alphaT / alphaS0;
        double outputCoeff = (predictX0 ? alphaT : sigmaT) * hPhi1;
        double residualCoeff = (predictX0 ? alphaT : sigmaT) * bH;
        for (int j = 0; j < sample.Length; j++)
        {
            double next = (sampleCoeff * sample[j]) - (outputCoeff * m0[j]);
            if (rhos.Length > 0)
            {
                double residual = 0;
                for (int k = 1; k < order; k++)
                {
                    residual += rhos[k - 1] * (((double)outputs[^(k + 1)][j] - m0[j]) / rks[k - 1]);
                }

                next -= residualCoeff * residual;
            }

            sample[j] = (float)next;
        }
    }

    /// <summary>diffusers multistep_uni_c_bh_update: redo the previous step, from <paramref name="lastSample"/> at
    /// sigmas[i - 1] to sigmas[i], adding this step's output <paramref name="modelT"/> to the previous outputs.</summary>
    private void Correct(int i, ReadOnlySpan<float> modelT, List<float[]> outputs, float[] lastSample, Span<float> sample, int order)
    {
        float[] m0 = outputs[^1];
        var (alphaT, sigmaT, lambdaT) = MultistepMath.AlphaSigmaLambda(sigmas[i]);
        var (alphaS0, sigmaS0, lambdaS0) = MultistepMath.AlphaSigmaLambda(sigmas[i - 1]);
        double h = lambdaT - lambdaS0;

        double[] rks = new double[order];
        for (int k = 1; k < order; k++)
        {
            rks[k - 1] = (MultistepMath.AlphaSigmaLambda(sigmas[i - (k + 1)]).Lambda - lambdaS0) / h;
        }

        rks[order - 1] = 1;
        var (hPhi1, bH, b, r) = Coefficients(h, rks);

        // rhos_c: 1/2 for order 1, else R rhos = b; the last weighs this step's output.
        double[] rhos = order == 1 ? [0.5] : ToFloat(Solve(r, b, order));

        double sampleCoeff = predictX0 ? sigmaT / sigmaS0 : alphaT / alphaS0;
        double outputCoeff = (predictX0 ? alphaT : sigmaT) * hPhi1;
        double residualCoeff = (predictX0 ? alphaT : sigmaT) * bH;
        for (int j = 0; j < sample.Length; j++)
        {
            double residual = rhos[^1] * ((double)modelT[j] - m0[j]);
            for (int k = 1; k < order; k++)
            {
                residual += rhos[k - 1] * (((double)outputs[^(k + 1)][j] - m0[j]) / rks[k - 1]);
            }

            sample[j] = (float)((sampleCoeff * lastSample[j]) - (outputCoeff * m0[j]) - (residualCoeff * residual));
        }
    }

    /// <summary>The B(h) coefficients both updates share: h phi_1(h) = e^hh - 1, B(h) (hh for bh1, e^hh - 1 for
    /// bh2), b_k = h phi_(k+1)(h) k! / B(h), and R = rks^(k-1) row by row; hh = -h when predicting x0.</summary>
    private (double HPhi1, double BH, double[] B, double[,] R) Coefficients(double h, double[] rks)
    {
        int order = rks.Length;
        double hh = predictX0 ? -h : h;
        double hPhi1 = NumPyMath.Expm1(hh);
        double hPhiK = (hPhi1 / hh) - 1;
        double factorial = 1;
        double bH = bh1 ? hh : NumPyMath.Expm1(hh);
        var b = new double[order];
        var r = new double[order, order];
        for (int k = 1; k <= order; k++)
        {
            for (int c = 0; c < order; c++)
            {
                r[k - 1, c] = Math.Pow(rks[c], k - 1);
            }

            b[k - 1] = hPhiK * factorial / bH;
            factorial *= k + 1;
            hPhiK = (hPhiK / hh) - (1 / factorial);
        }

        return (hPhi1, bH, b, r);
    }

    /// <summary>Solves the leading <paramref name="size"/> x <paramref name="size"/> block of R x = b by Gaussian
    /// elimination with partial pivoting (torch.linalg.solve's LU, for at most 3 unknowns).</summary>
    private static double[] Solve(double[,] r, double[] b, int size)
    {
        var a = new double[size, size];
        var x = new double[size];
        for (int row = 0; row < size; row++)
        {
            x[row] = b[row];
            for (int c = 0; c < size; c++)
            {
                a[row, c] = r[row, c];
            }
        }

        for (int col = 0; col < size; col++)
        {
            int pivot = col;
            for (int row = col + 1; row < size; row++)
            {
                if (Math.Abs(a[row, col]) > Math.Abs(a[pivot, col]))
                {
                    pivot = row;
                }
            }

            for (int c = 0; c < size; c++)
            {
                (a[col, c], a[pivot, c]) = (a[pivot, c], a[col, c]);
            }

            (x[col], x[pivot]) = (x[pivot], x[col]);
            for (int row = col + 1; row < size; row++)
            {
                double factor = a[row, col] / a[col, col];
                for (int c = col; c < size; c++)
                {
                    a[row, c] -= factor * a[col, c];
                }

                x[row] -= factor * x[col];
            }
        }

        for (int row = size - 1; row >= 0; row--)
        {
            for (int c = row + 1; c < size; c++)
            {
                x[row] -= a[row, c] * x[c];
            }

            x[row] /= a[row, row];
        }

        return x;
    }

    private static double[] ToFloat(double[] values) => values.Select(v => (double)(float)v).ToArray();

    /// <summary>diffusers convert_model_output: the x0 prediction (predict_x0) or the noise, rounded to float as
    /// diffusers keeps model outputs in the model's dtype.</summary>
    private void ConvertModelOutput(ReadOnlySpan<float> modelOutput, ReadOnlySpan<float> sample, double sigma, Span<float> converted)
    {
        var (alpha, sigmaT, _) = MultistepMath.AlphaSigmaLambda(sigma);
        var prediction = Config.PredictionType;
        for (int j = 0; j < converted.Length; j++)
        {
            double x = sample[j];
            double m = modelOutput[j];
            converted[j] = (float)(predictX0
                ? MultistepMath.DataPrediction(prediction, x, m, alpha, sigmaT)
                : prediction switch
                {
                    PredictionType.Epsilon => m,
                    PredictionType.VPrediction => (alpha * m) + (sigmaT * x),
                    _ => (x - (alpha * m)) / sigmaT,
                });
        }
    }
}
