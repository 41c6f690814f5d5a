namespace HierDiff.Core.Schedulers;

/// <summary>
/// What DDPM and DDIM share: timesteps by timestep_spacing, rounded to integers as diffusers rounds them, each an
/// index into the training schedule's alphas_cumprod.
/// </summary>
public abstract class AlphaCumprodScheduler : DiffusionScheduler
{
    private readonly double[] alphasCumprod;
    private readonly double[] timesteps;

    private protected AlphaCumprodScheduler(string name, SchedulerConfig config, int numInferenceSteps)
        : base(name, config, numInferenceSteps)
    {
        alphasCumprod = Config.ComputeAlphasCumprod();
        timesteps = TimestepSchedule.Compute(
            Config.TimestepSpacing!.Value, Config.NumTrainTimesteps, NumInferenceSteps, Config.StepsOffset, roundLinspace: true);
        ValidateTimesteps(timesteps, mustIndexTraining: true);
    }

    public override IReadOnlyList<double> Timesteps => Array.AsReadOnly(timesteps);

    /// <summary>The training timestep of step <paramref name="stepIndex"/>.</summary>
    private protected int Timestep(int stepIndex) => (int)timesteps[stepIndex];

    /// <summary>alphas_cumprod at training timestep <paramref name="timestep"/>.</summary>
    private protected double AlphaCumprod(int timestep) => alphasCumprod[timestep];
}
