namespace HierDiff.Core.Tests.Schedulers;

/// <summary>Configs, a deterministic fake denoiser and a sampling loop shared by the scheduler tests.</summary>
internal static class SchedulerTestKit
{
    public const int LatentLength = 64;

    public static string Sd15Path => TestPaths.Data("schedulers", "sd15_scheduler_config.json");

    public static string Sd3Path => TestPaths.Data("schedulers", "sd3_scheduler_config.json");

    public static SchedulerConfig Sd15 => SchedulerConfig.Load(Sd15Path);

    public static SchedulerConfig Sd3 => SchedulerConfig.Load(Sd3Path);

    /// <summary>The config a test case names: "sd15", "sd3", "linear-trailing" (diffusers defaults, trailing), or
    /// sd15 with one of the options added with PNDM, LMS and UniPC.</summary>
    public static SchedulerConfig Named(string name) => name switch
    {
        "sd15" => Sd15,
        "sd3" => Sd3,
        "linear-trailing" => SchedulerConfig.Parse("""{ "timestep_spacing": "trailing" }""", "linear-trailing.json"),
        "karras" => Sd15 with { UseKarrasSigmas = true },
        "zero-snr" => Sd15 with { RescaleBetasZeroSnr = true, TimestepSpacing = TimestepSpacing.Trailing },
        "cosine" => new SchedulerConfig { BetaSchedule = BetaSchedule.SquaredCosCapV2 },
        "final-sigma-min" => Sd15 with { FinalSigmasType = FinalSigmasType.SigmaMin },
        "order-1" => Sd15 with { SolverOrder = 1 },
        "order-3" => Sd15 with { SolverOrder = 3 },
        "sde" => Sd15 with { AlgorithmType = "sde-dpmsolver++" },
        "sde-order-3-karras" => Sd15 with { AlgorithmType = "sde-dpmsolver++", SolverOrder = 3, UseKarrasSigmas = true },
        "heun" => Sd15 with { SolverType = "heun" },
        "bh1-final-sigma-min" => Sd15 with { SolverType = "bh1", FinalSigmasType = FinalSigmasType.SigmaMin },
        "noise-prediction" => Sd15 with { PredictX0 = false, SolverOrder = 3, FinalSigmasType = FinalSigmasType.SigmaMin },
        "disable-corrector" => Sd15 with { DisableCorrector = [0, 3] },
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, null),
    };

    /// <summary>A fixed nonlinear function of the input, the timestep and a conditioning vector, bounded by 1.</summary>
    public static void FakeDenoiser(ReadOnlySpan<float> input, double timestep, ReadOnlySpan<float> condition, Span<float> output)
    {
        for (int j = 0; j < input.Length; j++)
        {
            double value = (0.8 * Math.Tanh((0.6 * input[j]) + condition[j % condition.Length]))
                + (0.15 * Math.Sin((0.013 * timestep) + (0.7 * j)));
            output[j] = (float)value;
        }
    }

    public static float[] Condition(int prompt) =>
        Enumerable.Range(0, 8).Select(k => (float)Math.Cos((prompt * 1.3) + k)).ToArray();

    /// <summary>Runs <paramref name="count"/> steps of the usual loop: scale the input, denoise, step.</summary>
    public static void Run(DiffusionScheduler scheduler, SchedulerState state, float[] latent, NoiseStream noise, float[] condition, int count)
    {
        var input = new float[latent.Length];
        var output = new float[latent.Length];
        for (int k = 0; k < count; k++)
        {
            int i = state.StepIndex;
            scheduler.ScaleModelInput(latent, input, i);
            FakeDenoiser(input, scheduler.Timesteps[i], condition, output);
            scheduler.Step(state, output, latent, noise);
        }
    }

    /// <summary>A full run from the initial latent.</summary>
    public static float[] Generate(DiffusionScheduler scheduler, NoiseStream noise, float[] condition)
    {
        var latent = new float[LatentLength];
        scheduler.InitializeLatent(latent, noise);
        var state = scheduler.CreateState();
        Run(scheduler, state, latent, noise, condition, scheduler.StepCount);
        return latent;
    }

    /// <summary>A trajectory stopped after <paramref name="steps"/> steps (noise seed 3, stream 1; prompt 1): its state
    /// and, in <paramref name="latent"/>, its latent.</summary>
    public static SchedulerState StateAfter(DiffusionScheduler scheduler, int steps, out float[] latent)
    {
        var noise = new NoiseStream(3, 1);
        latent = new float[LatentLength];
        scheduler.InitializeLatent(latent, noise);
        var state = scheduler.CreateState();
        Run(scheduler, state, latent, noise, Condition(1), steps);
        return state;
    }

    public static int[] Bits(ReadOnlySpan<float> values)
    {
        var bits = new int[values.Length];
        for (int j = 0; j < values.Length; j++)
        {
            bits[j] = BitConverter.SingleToInt32Bits(values[j]);
        }

        return bits;
    }

    public static PredictionType Prediction(string name) => name switch
    {
        "epsilon" => PredictionType.Epsilon,
        "v_prediction" => PredictionType.VPrediction,
        "sample" => PredictionType.Sample,
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, null),
    };
}
