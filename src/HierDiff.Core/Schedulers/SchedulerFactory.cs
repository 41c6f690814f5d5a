namespace HierDiff.Core.Schedulers;

/// <summary>The scheduler names callers refer to in code, and a static front over <see cref="SchedulerRegistry.Default"/>,
/// which is where schedulers are registered.</summary>
public static class SchedulerFactory
{
    public const string Ddpm = DdpmScheduler.RegisteredName;
    public const string Ddim = DdimScheduler.RegisteredName;
    public const string Euler = EulerDiscreteScheduler.RegisteredName;
    public const string EulerAncestral = EulerAncestralScheduler.RegisteredName;
    public const string DpmSolverMultistep = DpmSolverMultistepScheduler.RegisteredName;
    public const string FlowEuler = FlowMatchEulerScheduler.RegisteredName;
    public const string Pndm = PndmScheduler.RegisteredName;
    public const string Lms = LmsDiscreteScheduler.RegisteredName;
    public const string UniPc = UniPcMultistepScheduler.RegisteredName;

    /// <summary>Every scheduler name <see cref="Create"/> accepts, aliases aside.</summary>
    public static IReadOnlyList<string> Names => SchedulerRegistry.Default.Names;

    /// <summary>Makes the named scheduler for <paramref name="numInferenceSteps"/> steps.</summary>
    /// <exception cref="HierDiffInputException">Unknown name, steps out of range, or a config the scheduler cannot honour.</exception>
    public static DiffusionScheduler Create(string name, SchedulerConfig config, int numInferenceSteps) =>
        SchedulerRegistry.Default.Create(name, config, numInferenceSteps);

    /// <summary>Our name for a diffusers scheduler class (the config's <c>_class_name</c>), or null when there is
    /// none (unknown classes, no class).</summary>
    public static string? NameForClass(string? className) => SchedulerRegistry.Default.NameForClass(className);
}
