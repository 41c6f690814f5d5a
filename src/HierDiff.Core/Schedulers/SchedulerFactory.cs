namespace HierDiff.Core.Schedulers;

/// <summary>Makes schedulers by name, and maps diffusers class names to those names.</summary>
public static class SchedulerFactory
{
    public const string Ddpm = "ddpm";
    public const string Ddim = "ddim";
    public const string Euler = "euler";
    public const string EulerAncestral = "euler-ancestral";
    public const string DpmSolverMultistep = "dpm++2m";
    public const string FlowEuler = "flow-euler";

    /// <summary>Every scheduler name <see cref="Create"/> accepts.</summary>
    public static IReadOnlyList<string> Names { get; } = [Ddpm, Ddim, Euler, EulerAncestral, DpmSolverMultistep, FlowEuler];

    /// <summary>Makes the named scheduler for <paramref name="numInferenceSteps"/> steps.</summary>
    /// <exception cref="HierDiffInputException">Unknown name, steps out of range, or a config the scheduler cannot honour.</exception>
    public static DiffusionScheduler Create(string name, SchedulerConfig config, int numInferenceSteps)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(config);
        return name.ToLowerInvariant() switch
        {
            Ddpm => new DdpmScheduler(config, numInferenceSteps),
            Ddim => new DdimScheduler(config, numInferenceSteps),
            Euler => new EulerDiscreteScheduler(config, numInferenceSteps),
            EulerAncestral => new EulerAncestralScheduler(config, numInferenceSteps),
            DpmSolverMultistep => new DpmSolverMultistepScheduler(config, numInferenceSteps),
            FlowEuler => new FlowMatchEulerScheduler(config, numInferenceSteps),
            _ => throw new HierDiffInputException(
                $"unknown scheduler '{name}'; supported: {string.Join(", ", Names)}"),
        };
    }

    /// <summary>Our name for a diffusers scheduler class (the config's <c>_class_name</c>), or null when there is
    /// none (PNDMScheduler, unknown classes, no class): the caller then picks its default, ddpm.</summary>
    public static string? NameForClass(string? className) => className switch
    {
        "DDPMScheduler" => Ddpm,
        "DDIMScheduler" => Ddim,
        "EulerDiscreteScheduler" => Euler,
        "EulerAncestralDiscreteScheduler" => EulerAncestral,
        "DPMSolverMultistepScheduler" => DpmSolverMultistep,
        "FlowMatchEulerDiscreteScheduler" => FlowEuler,
        _ => null,
    };
}
