using System.Buffers;
using HierDiff.Core.Noise;

namespace HierDiff.Core.Schedulers;

/// <summary>
/// A diffusion sampler with diffusers semantics, split so that a trajectory can move between workers:
/// the scheduler holds only what its name, config and step count determine (timesteps, sigmas, alphas),
/// and everything that changes from step to step lives in a <see cref="SchedulerState"/>.
/// </summary>
/// <remarks>
/// <para>Instances are immutable once made, so one instance may step many trajectories on many threads.</para>
/// <para>Coefficients are computed in double from the schedule and applied per element in double to the float
/// latent, which is rounded to float once per step. A step depends only on (sample, model output, state,
/// noise stream), so a resumed run repeats a straight run bit for bit.</para>
/// <para>Loop: <c>InitializeLatent</c>; then for each step index i below <c>StepCount</c>: <c>ScaleModelInput</c>,
/// run the denoiser at <c>Timesteps[i]</c>, <c>Step</c>.</para>
/// </remarks>
public abstract class DiffusionScheduler
{
    private string? fingerprint;

    private protected DiffusionScheduler(string name, SchedulerConfig config, int numInferenceSteps)
    {
        config.Validate();
        SchedulerRegistry.Default.Registration(name).EnsureSupported(config);
        if (numInferenceSteps < 1 || numInferenceSteps > config.NumTrainTimesteps)
        {
            throw new HierDiffInputException(
                $"{config.Source}: {numInferenceSteps} inference steps for scheduler {name} is out of range; "
                + $"it must be between 1 and num_train_timesteps ({config.NumTrainTimesteps})");
        }

        Name = name;
        Config = config.WithDefaultsUnset();
        NumInferenceSteps = numInferenceSteps;
    }

    /// <summary>The scheduler's name in the <see cref="SchedulerRegistry"/>.</summary>
    public string Name { get; }

    /// <summary>The config with this scheduler's diffusers defaults filled in (timestep spacing, clip_sample), and the
    /// newer options unset where they hold their default, so that writing a default equals leaving it out.</summary>
    public SchedulerConfig Config { get; }

    /// <summary>diffusers' num_inference_steps: the steps a user asks for.</summary>
    public int NumInferenceSteps { get; }

    /// <summary>The value passed to the denoiser at each step index, as diffusers computes it.</summary>
    public abstract IReadOnlyList<double> Timesteps { get; }

    /// <summary>How many times a trajectory runs the denoiser and <see cref="Step"/>: one per timestep. That is
    /// <see cref="NumInferenceSteps"/> for every scheduler but PNDM, whose PLMS start runs one timestep twice.</summary>
    public int StepCount => Timesteps.Count;

    /// <summary>The standard deviation of the initial latent.</summary>
    public virtual double InitNoiseSigma => 1.0;

    /// <summary>Name, every config value and the step count: states are accepted only by a scheduler with the same.</summary>
    /// (Made on first use, once the subclass has its config; threads that race make the same string.)
    public string Fingerprint => fingerprint ??=
        $"{Name};steps={NumInferenceSteps};{Config.Describe()}{Config.DescribeSet(FingerprintOptions)}";

    /// <summary>The config keys, added since the fingerprint format was fixed, that this scheduler takes; their
    /// values join its fingerprint when the config sets them.</summary>
    private protected virtual IEnumerable<string> FingerprintOptions => [];

    /// <summary>The denoiser's input at step <paramref name="stepIndex"/> (a copy for most schedulers).</summary>
    public virtual void ScaleModelInput(ReadOnlySpan<float> sample, Span<float> destination, int stepIndex)
    {
        CheckScaleArguments(sample, destination, stepIndex);
        sample.CopyTo(destination);
    }

    /// <summary>Fills the starting latent: noise draw <see cref="NoiseStream.InitialLatentDraw"/> times
    /// <see cref="InitNoiseSigma"/>.</summary>
    public void InitializeLatent(Span<float> latent, NoiseStream noise)
    {
        noise.Fill(latent, NoiseStream.InitialLatentDraw);
        double sigma = InitNoiseSigma;
        if (sigma != 1.0)
        {
            for (int j = 0; j < latent.Length; j++)
            {
                latent[j] = (float)(latent[j] * sigma);
            }
        }
    }

    /// <summary>A fresh state, before step 0.</summary>
    public SchedulerState CreateState() => new(Name, Fingerprint);

    /// <summary>
    /// Replaces <paramref name="sample"/> by the sample at the next (less noisy) timestep and advances
    /// <paramref name="state"/>. Noise, where the method needs it, is draw
    /// <see cref="NoiseStream.StepDraw"/>(state.StepIndex) of <paramref name="noise"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">The state is finished or belongs to another scheduler, config or step count.</exception>
    /// <exception cref="ArgumentException">The model output and sample lengths differ.</exception>
    public void Step(SchedulerState state, ReadOnlySpan<float> modelOutput, Span<float> sample, NoiseStream noise)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Fingerprint != Fingerprint)
        {
            throw new InvalidOperationException(
                $"The scheduler state was made by '{state.Fingerprint}', not by this scheduler '{Fingerprint}'; "
                + "resume with the same scheduler, config and number of steps.");
        }

        if (state.StepIndex >= StepCount)
        {
            throw new InvalidOperationException(
                $"The trajectory is finished: all {StepCount} steps of {Name} have run.");
        }

        if (modelOutput.Length != sample.Length)
        {
            throw new ArgumentException(
                $"The model output has {modelOutput.Length} values but the sample has {sample.Length}.", nameof(modelOutput));
        }

        CheckStateShape(state, sample.Length);
        StepCore(state, modelOutput, sample, noise);
        state.StepIndex++;
    }

    /// <summary>One step at index state.StepIndex; the base class advances the index afterwards.</summary>
    private protected abstract void StepCore(SchedulerState state, ReadOnlySpan<float> modelOutput, Span<float> sample, NoiseStream noise);

    /// <summary>Refuses a state whose slots do not fit this scheduler (the base: single-step, no slots).</summary>
    private protected virtual void CheckStateShape(SchedulerState state, int sampleLength)
    {
        if (state.Arrays.Count != 0 || state.Scalars.Count != 0)
        {
            throw new InvalidOperationException($"The scheduler state is damaged: {Name} keeps nothing between steps.");
        }
    }

    private protected void CheckScaleArguments(ReadOnlySpan<float> sample, Span<float> destination, int stepIndex)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(stepIndex);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(stepIndex, StepCount);
        if (sample.Length != destination.Length)
        {
            throw new ArgumentException(
                $"The destination has {destination.Length} values but the sample has {sample.Length}.", nameof(destination));
        }
    }

    /// <summary>The config with what it leaves unset taken from the scheduler's diffusers class: timestep_spacing,
    /// and clip_sample for the classes that have one.</summary>
    private protected static SchedulerConfig WithDefaults(SchedulerConfig config, TimestepSpacing timestepSpacing, bool? clipSample = null, bool? setAlphaToOne = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        return config with
        {
            TimestepSpacing = config.TimestepSpacing ?? timestepSpacing,
            ClipSample = config.ClipSample ?? clipSample,
            SetAlphaToOne = config.SetAlphaToOne ?? setAlphaToOne,
        };
    }

    /// <summary>Refuses schedules the sampler cannot run: a step that does not lower the timestep
    /// (DPM-Solver divides by the log-SNR difference), or an index outside the trained range.</summary>
    private protected void ValidateTimesteps(IReadOnlyList<double> timesteps, bool mustIndexTraining)
    {
        for (int i = 0; i < timesteps.Count; i++)
        {
            if (mustIndexTraining && (timesteps[i] < 0 || timesteps[i] > Config.NumTrainTimesteps - 1))
            {
                throw new HierDiffInputException(
                    $"{Config.Source}: {NumInferenceSteps} inference steps with steps_offset {Config.StepsOffset} give "
                    + $"timestep {timesteps[i]}, outside 0..{Config.NumTrainTimesteps - 1}; use fewer steps or a smaller steps_offset");
            }

            if (i > 0 && !(timesteps[i] < timesteps[i - 1]))
            {
                throw new HierDiffInputException(
                    $"{Config.Source}: {NumInferenceSteps} inference steps for scheduler {Name} repeat timestep "
                    + $"{timesteps[i]}; use fewer steps");
            }
        }
    }

    /// <summary>Draw StepDraw(stepIndex) of the noise in a pooled buffer; give it back with <see cref="ReturnScratch"/>.
    /// Pooling keeps a step from allocating a latent-sized buffer while instances stay shareable between threads.</summary>
    private protected static float[] RentStepNoise(NoiseStream noise, int stepIndex, int length)
    {
        float[] rented = ArrayPool<float>.Shared.Rent(length);
        noise.Fill(rented.AsSpan(0, length), NoiseStream.StepDraw(stepIndex));
        return rented;
    }

    private protected static float[] RentScratch(int length) => ArrayPool<float>.Shared.Rent(length);

    private protected static void ReturnScratch(float[] rented) => ArrayPool<float>.Shared.Return(rented);

    /// <summary>x0 from the model output, for schedulers parameterised by alpha_cumprod.</summary>
    private protected static double PredictOriginal(
        PredictionType prediction, double sample, double modelOutput, double sqrtAlphaProd, double sqrtBetaProd) =>
        prediction switch
        {
            PredictionType.Epsilon => (sample - (sqrtBetaProd * modelOutput)) / sqrtAlphaProd,
            PredictionType.VPrediction => (sqrtAlphaProd * sample) - (sqrtBetaProd * modelOutput),
            _ => modelOutput,
        };
}
