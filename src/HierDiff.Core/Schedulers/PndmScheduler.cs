using HierDiff.Core.Noise;

namespace HierDiff.Core.Schedulers;

/// <summary>
/// Pseudo numerical methods for diffusion models (Liu et al. 2022, "Pseudo Numerical Methods for Diffusion
/// Models"), Stable Diffusion 1.x's default; mirrors diffusers <c>PNDMScheduler</c> (schedulers/scheduling_pndm.py):
/// with skip_prk_steps true (Stable Diffusion's configs) pseudo linear multistep (PLMS) from the first step, else
/// F-PNDM, three pseudo Runge-Kutta steps before PLMS. Defaults as in diffusers: timestep_spacing leading,
/// set_alpha_to_one false, skip_prk_steps false. Like diffusers, supports epsilon and v_prediction only.
/// </summary>
/// <remarks>
/// <para>Either start costs extra denoiser calls (<see cref="DiffusionScheduler.StepCount"/>): PLMS runs the second
/// timestep twice (K + 1 calls for K steps, K &gt; 1), F-PNDM runs four calls for each of its three Runge-Kutta steps
/// (K + 9 calls; diffusers needs K &gt;= 4 for it).</para>
/// <para>The state keeps diffusers' ets, the raw model outputs the multistep formula combines, oldest first, at most
/// four, in the first array slots. After them: between PLMS steps 0 and 1, cur_sample (the sample step 1 starts
/// again from); inside a Runge-Kutta step, cur_sample and cur_model_output (the weighted sum of its outputs).</para>
/// </remarks>
public sealed class PndmScheduler : DiffusionScheduler
{
    /// <summary>Its name in the <see cref="SchedulerRegistry"/>.</summary>
    public const string RegisteredName = "pndm";

    private const int MaxHistory = 4;

    /// <summary>diffusers pndm_order: the Runge-Kutta start takes the 4 largest timesteps, 4 model calls each
    /// but the last, whose calls are PLMS's first.</summary>
    private const int PndmOrder = 4;
    private const int PrkCalls = 12;

    private readonly double[] alphasCumprod;
    private readonly double[] timesteps;
    private readonly double finalAlphaCumprod;
    private readonly int stepRatio;
    private readonly bool rungeKuttaStart;

    public PndmScheduler(SchedulerConfig config, int numInferenceSteps)
        : base(RegisteredName, Resolve(config), numInferenceSteps)
    {
        if (Config.PredictionType == PredictionType.Sample)
        {
            throw new HierDiffInputException(
                $"{Config.Source}: key 'prediction_type' is 'sample'; scheduler {Name} supports: epsilon, v_prediction");
        }

        rungeKuttaStart = Config.SkipPrkSteps != true;
        if (rungeKuttaStart && NumInferenceSteps < PndmOrder)
        {
            throw new HierDiffInputException(
                $"{Config.Source}: key 'skip_prk_steps' is {(Config.SkipPrkSteps is null ? "not set (diffusers' default false)" : "false")}: "
                + $"scheduler {Name}'s Runge-Kutta start needs at least {PndmOrder} steps, not {NumInferenceSteps}; "
                + "use more steps, or set skip_prk_steps to true");
        }

        alphasCumprod = Config.ComputeAlphasCumprod();
        finalAlphaCumprod = Config.SetAlphaToOne == true ? 1.0 : alphasCumprod[0];
        stepRatio = Config.NumTrainTimesteps / NumInferenceSteps;

        // The schedule's K timesteps, largest first, as diffusers set_timesteps spaces them.
        double[] d = TimestepSchedule.Compute(
            Config.TimestepSpacing!.Value, Config.NumTrainTimesteps, NumInferenceSteps, Config.StepsOffset, roundLinspace: true);
        ValidateTimesteps(d, mustIndexTraining: true);
        if (rungeKuttaStart)
        {
            // prk_timesteps: d0, then each of d1, d2, d3 preceded by its midpoint, each twice; then PLMS from d3.
            int half = stepRatio / 2;
            timesteps = [d[0], d[1] + half, d[1] + half, d[1], d[1], d[2] + half, d[2] + half, d[2], d[2],
                d[3] + half, d[3] + half, d[3], .. d[3..]];
        }
        else
        {
            // plms_timesteps: d1 twice.
            timesteps = d.Length == 1 ? d : [d[0], d[1], .. d[1..]];
        }

        for (int i = 0; i < timesteps.Length; i++)
        {
            // The PLMS restart at step 1 steps from its timestep plus T // K (diffusers step_plms).
            double from = !rungeKuttaStart && i == 1 ? timesteps[i] + stepRatio : timesteps[i];
            if (from > Config.NumTrainTimesteps - 1)
            {
                throw new HierDiffInputException(
                    $"{Config.Source}: {NumInferenceSteps} inference steps with steps_offset {Config.StepsOffset} give "
                    + $"PNDM timestep {from}, outside 0..{Config.NumTrainTimesteps - 1}; use a smaller steps_offset");
            }
        }
    }

    public override IReadOnlyList<double> Timesteps => Array.AsReadOnly(timesteps);

    private protected override IEnumerable<string> FingerprintOptions => ["skip_prk_steps"];

    private static SchedulerConfig Resolve(SchedulerConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return config with
        {
            TimestepSpacing = config.TimestepSpacing ?? TimestepSpacing.Leading,
            SetAlphaToOne = config.SetAlphaToOne ?? false,

            // PNDMScheduler does not take rescale_betas_zero_snr; diffusers ignores it.
            RescaleBetasZeroSnr = null,
        };
    }

    /// <summary>The arrays a state holds before step <paramref name="stepIndex"/> (see the remarks).</summary>
    private int ExpectedArrays(int stepIndex)
    {
        if (rungeKuttaStart)
        {
            // One output saved per Runge-Kutta step, and two working arrays inside one; then one more per PLMS step.
            return stepIndex < PrkCalls
                ? ((stepIndex + 3) / 4) + (stepIndex % 4 == 0 ? 0 : 2)
                : Math.Min(3 + (stepIndex - PrkCalls), MaxHistory);
        }

        return stepIndex switch
        {
            0 => 0,
            1 => 2,
            _ => Math.Min(stepIndex - 1, MaxHistory),
        };
    }

    private protected override void CheckStateShape(SchedulerState state, int sampleLength)
    {
        int expected = ExpectedArrays(state.StepIndex);
        if (state.Arrays.Count != expected || state.Scalars.Count != 0)
        {
            throw new InvalidOperationException(
                $"The scheduler state is damaged: {Name} at step {state.StepIndex} needs {expected} saved arrays and no "
                + $"numbers, not {state.Arrays.Count} arrays and {state.Scalars.Count} numbers.");
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

    private protected override void StepCore(SchedulerState state, ReadOnlySpan<float> modelOutput, Span<float> sample, NoiseStream noise)
    {
        if (rungeKuttaStart && state.StepIndex < PrkCalls)
        {
            StepRungeKutta(state, modelOutput, sample);
        }
        else
        {
            StepLinearMultistep(state, modelOutput, sample);
        }
    }

    /// <summary>diffusers step_prk: four calls per step, each stepping from the step's first sample (cur_sample);
    /// the first three with their own output, the fourth with the Runge-Kutta mean of all four.</summary>
    private void StepRungeKutta(SchedulerState state, ReadOnlySpan<float> modelOutput, Span<float> sample)
    {
        int counter = state.StepIndex;
        List<float[]> slots = state.MutableArrays;
        int n = sample.Length;
        int prevT = (int)timesteps[counter] - (counter % 2 == 1 ? 0 : stepRatio / 2);
        int t = (int)timesteps[counter / 4 * 4];
        int phase = counter % 4;

        if (phase == 0)
        {
            slots.Add(modelOutput.ToArray());
            slots.Add(sample.ToArray());
            slots.Add(new float[n]);
        }

        float[] curSample = slots[^2];
        float[] curModelOutput = slots[^1];
        float[] output = RentScratch(n);
        try
        {
            double weight = phase is 0 or 3 ? 1.0 / 6 : 1.0 / 3;
            for (int j = 0; j < n; j++)
            {
                float sum = (float)(curModelOutput[j] + (weight * modelOutput[j]));
                if (phase == 3)
                {
                    output[j] = sum;
                }
                else
                {
                    curModelOutput[j] = sum;
                    output[j] = modelOutput[j];
                }
            }

            curSample.AsSpan().CopyTo(sample);
            PreviousSample(sample, t, prevT, output.AsSpan(0, n));
        }
        finally
        {
            ReturnScratch(output);
        }

        if (phase == 3)
        {
            // The step is done; only its first output stays, for PLMS.
            slots.RemoveRange(slots.Count - 2, 2);
        }
    }

    /// <summary>diffusers step_plms: combine the saved model outputs, then one step of formula (9).</summary>
    private void StepLinearMultistep(SchedulerState state, ReadOnlySpan<float> modelOutput, Span<float> sample)
    {
        int counter = state.StepIndex;
        int t = (int)timesteps[counter];
        int prevT = t - stepRatio;
        List<float[]> ets = state.MutableArrays;
        int n = sample.Length;

        if (counter == 1)
        {
            // The second call at the same timestep: redo step 0's step from its sample, with the mean of both outputs.
            prevT = t;
            t += stepRatio;
            float[] curSample = ets[1];
            ets.RemoveAt(1);
            float[] first = ets[0];
            float[] mean = RentScratch(n);
            try
            {
                for (int j = 0; j < n; j++)
                {
                    mean[j] = (float)((modelOutput[j] + (double)first[j]) / 2);
                }

                curSample.AsSpan().CopyTo(sample);
                PreviousSample(sample, t, prevT, mean.AsSpan(0, n));
            }
            finally
            {
                ReturnScratch(mean);
            }

            return;
        }

        // Keep the last three outputs and add this one (the oldest array is reused, so a step allocates nothing).
        float[] saved = ets.Count == MaxHistory ? ets[0] : new float[n];
        if (ets.Count == MaxHistory)
        {
            ets.RemoveAt(0);
        }

        modelOutput.CopyTo(saved);
        ets.Add(saved);

        float[] combined = RentScratch(n);
        try
        {
            Combine(ets, combined.AsSpan(0, n));
            if (counter == 0)
            {
                // cur_sample: step 1 starts again from this sample.
                ets.Add(sample.ToArray());
            }

            PreviousSample(sample, t, prevT, combined.AsSpan(0, n));
        }
        finally
        {
            ReturnScratch(combined);
        }
    }

    /// <summary>The linear multistep combination of diffusers step_plms for 1 to 4 saved outputs, newest last
    /// (Adams-Bashforth coefficients), rounded to float as diffusers keeps it in the model's dtype.</summary>
    private static void Combine(List<float[]> ets, Span<float> combined)
    {
        int count = ets.Count;
        float[] e1 = ets[count - 1];
        for (int j = 0; j < combined.Length; j++)
        {
            combined[j] = count switch
            {
                1 => e1[j],
                2 => (float)(((3.0 * e1[j]) - ets[0][j]) / 2),
                3 => (float)(((23.0 * e1[j]) - (16.0 * ets[1][j]) + (5.0 * ets[0][j])) / 12),
                _ => (float)((1.0 / 24) * ((55.0 * e1[j]) - (59.0 * ets[2][j]) + (37.0 * ets[1][j]) - (9.0 * ets[0][j]))),
            };
        }
    }

    /// <summary>diffusers _get_prev_sample: formula (9) of the PNDM paper, from timestep t to prevT.</summary>
    private void PreviousSample(Span<float> sample, int t, int prevT, ReadOnlySpan<float> modelOutput)
    {
        double alphaProdT = alphasCumprod[t];
        double alphaProdPrev = prevT >= 0 ? alphasCumprod[prevT] : finalAlphaCumprod;
        double betaProdT = 1 - alphaProdT;
        double betaProdPrev = 1 - alphaProdPrev;
        double sampleCoeff = Math.Sqrt(alphaProdPrev / alphaProdT);
        double outputDenominator = (alphaProdT * Math.Sqrt(betaProdPrev)) + Math.Sqrt(alphaProdT * betaProdT * alphaProdPrev);
        double outputCoeff = (alphaProdPrev - alphaProdT) / outputDenominator;
        bool vPrediction = Config.PredictionType == PredictionType.VPrediction;
        double sqrtAlphaProdT = Math.Sqrt(alphaProdT);
        double sqrtBetaProdT = Math.Sqrt(betaProdT);
        for (int j = 0; j < sample.Length; j++)
        {
            double x = sample[j];

            // v_prediction: the noise it implies, from the sample this step starts from.
            double epsilon = vPrediction ? (sqrtAlphaProdT * modelOutput[j]) + (sqrtBetaProdT * x) : modelOutput[j];
            sample[j] = (float)((sampleCoeff * x) - (outputCoeff * epsilon));
        }
    }
}
