namespace HierDiff.Core.Schedulers;

/// <summary>
/// Every scheduler, one row each: its name, the diffusers classes it implements, how to make it, the diffusers
/// options its class takes but that are implemented only at their default, and other names it answers to.
/// Names, the factory, the class mapping, config checks, help text and error messages are all read from here,
/// so a new scheduler is its own file plus one row below.
/// </summary>
public sealed class SchedulerRegistry
{
    // Diffusers options implemented only at their default value. A row lists the ones its diffusers class takes.
    private static readonly FixedOption TrainedBetas = FixedOption.Null("trained_betas");
    private static readonly FixedOption Thresholding = FixedOption.Flag("thresholding", false);
    private static readonly FixedOption VarianceType = FixedOption.Text("variance_type", "fixed_small");
    private static readonly FixedOption KarrasSigmas = FixedOption.Flag("use_karras_sigmas", false);
    private static readonly FixedOption SigmaMin = FixedOption.Null("sigma_min");
    private static readonly FixedOption SigmaMax = FixedOption.Null("sigma_max");
    private static readonly FixedOption ExponentialSigmas = FixedOption.Flag("use_exponential_sigmas", false);
    private static readonly FixedOption BetaSigmas = FixedOption.Flag("use_beta_sigmas", false);
    private static readonly FixedOption InterpolationType = FixedOption.Text("interpolation_type", "linear");
    private static readonly FixedOption TimestepType = FixedOption.Text("timestep_type", "discrete");
    private static readonly FixedOption LuLambdas = FixedOption.Flag("use_lu_lambdas", false);
    private static readonly FixedOption FlowSigmas = FixedOption.Flag("use_flow_sigmas", false);
    private static readonly FixedOption LambdaMinClipped = FixedOption.Number("lambda_min_clipped", double.NegativeInfinity);
    private static readonly FixedOption DynamicShifting = FixedOption.Flag("use_dynamic_shifting", false);
    private static readonly FixedOption InvertSigmas = FixedOption.Flag("invert_sigmas", false);
    private static readonly FixedOption StochasticSampling = FixedOption.Flag("stochastic_sampling", false);
    private static readonly FixedOption ShiftTerminal = FixedOption.Null("shift_terminal");
    private static readonly FixedOption SolverP = FixedOption.Null("solver_p");

    private readonly SchedulerRegistration[] rows;
    private readonly Dictionary<string, SchedulerRegistration> byName = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, SchedulerRegistration> byClass = new(StringComparer.Ordinal);
    private readonly Dictionary<string, FixedOption> fixedOptions = new(StringComparer.Ordinal);

    /// <summary>The schedulers of this build. Order is the order of <see cref="Names"/>, help and errors.</summary>
    public static SchedulerRegistry Default { get; } = new(
    [
        // name, diffusers classes, factory, fixed options its diffusers class takes[, aliases]
        new(DdpmScheduler.RegisteredName, ["DDPMScheduler"], (c, k) => new DdpmScheduler(c, k),
            [TrainedBetas, Thresholding, VarianceType]),
        new(DdimScheduler.RegisteredName, ["DDIMScheduler"], (c, k) => new DdimScheduler(c, k),
            [TrainedBetas, Thresholding]),
        new(EulerDiscreteScheduler.RegisteredName, ["EulerDiscreteScheduler"], (c, k) => new EulerDiscreteScheduler(c, k),
            [TrainedBetas, ExponentialSigmas, BetaSigmas, SigmaMin, SigmaMax, InterpolationType, TimestepType]),
        new(EulerAncestralScheduler.RegisteredName, ["EulerAncestralDiscreteScheduler"], (c, k) => new EulerAncestralScheduler(c, k),
            [TrainedBetas]),
        new(DpmSolverMultistepScheduler.RegisteredName, ["DPMSolverMultistepScheduler"], (c, k) => new DpmSolverMultistepScheduler(c, k),
            [TrainedBetas, Thresholding, VarianceType, ExponentialSigmas, BetaSigmas, LuLambdas, FlowSigmas,
             LambdaMinClipped, DynamicShifting]),
        new(PndmScheduler.RegisteredName, ["PNDMScheduler"], (c, k) => new PndmScheduler(c, k), [TrainedBetas]),
        new(LmsDiscreteScheduler.RegisteredName, ["LMSDiscreteScheduler"], (c, k) => new LmsDiscreteScheduler(c, k),
            [TrainedBetas, ExponentialSigmas, BetaSigmas]),
        new(UniPcMultistepScheduler.RegisteredName, ["UniPCMultistepScheduler"], (c, k) => new UniPcMultistepScheduler(c, k),
            [TrainedBetas, Thresholding, SolverP, ExponentialSigmas, BetaSigmas, FlowSigmas, DynamicShifting, SigmaMin,
             SigmaMax, ShiftTerminal]),
        new(FlowMatchEulerScheduler.RegisteredName, ["FlowMatchEulerDiscreteScheduler"], (c, k) => new FlowMatchEulerScheduler(c, k),
            [KarrasSigmas, ExponentialSigmas, BetaSigmas, DynamicShifting, InvertSigmas, StochasticSampling, ShiftTerminal]),
    ]);

    /// <summary>Builds a registry; refuses a table whose names, aliases or classes collide, since a lookup would
    /// then depend on row order.</summary>
    internal SchedulerRegistry(IReadOnlyList<SchedulerRegistration> registrations)
    {
        rows = [.. registrations];
        foreach (var row in rows)
        {
            if (row.Name != row.Name.ToLowerInvariant())
            {
                throw new InvalidOperationException($"scheduler name '{row.Name}' must be lower case");
            }

            foreach (string name in row.Aliases.Prepend(row.Name))
            {
                if (!byName.TryAdd(name, row))
                {
                    throw new InvalidOperationException($"scheduler name '{name}' is registered twice");
                }
            }

            foreach (string className in row.DiffusersClasses)
            {
                if (!byClass.TryAdd(className, row))
                {
                    throw new InvalidOperationException($"diffusers class '{className}' is registered to two schedulers");
                }
            }

            foreach (var option in row.FixedOptions)
            {
                if (fixedOptions.TryGetValue(option.Key, out var other) && other.Supported != option.Supported)
                {
                    throw new InvalidOperationException($"option '{option.Key}' is fixed at two different values");
                }

                fixedOptions[option.Key] = option;
            }
        }

        Names = Array.AsReadOnly(rows.Select(r => r.Name).ToArray());
    }

    /// <summary>The rows, in table order.</summary>
    internal IReadOnlyList<SchedulerRegistration> Rows => rows;

    /// <summary>Every scheduler name, without aliases, in table order.</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>Every diffusers class a config's <c>_class_name</c> may name, in table order.</summary>
    public IReadOnlyList<string> DiffusersClasses => [.. rows.SelectMany(r => r.DiffusersClasses)];

    /// <summary>The names for a command line's help: "a, b or c", aliases in brackets.</summary>
    public string HelpList
    {
        get
        {
            var items = rows.Select(r => r.Aliases.Count == 0 ? r.Name : $"{r.Name} (or {string.Join(", ", r.Aliases)})").ToArray();
            return items.Length == 1 ? items[0] : $"{string.Join(", ", items[..^1])} or {items[^1]}";
        }
    }

    /// <summary>Whether <paramref name="name"/> is a scheduler name or alias (case-insensitive).</summary>
    public bool IsKnown(string name) => byName.ContainsKey(name);

    /// <summary>The error for a name that is not registered; it lists every name.</summary>
    public string UnknownNameMessage(string name) => $"unknown scheduler '{name}'; supported: {string.Join(", ", Names)}";

    /// <summary>Makes the named scheduler (a name or an alias, any case) for <paramref name="numInferenceSteps"/> steps.</summary>
    /// <exception cref="HierDiffInputException">Unknown name, steps out of range, or a config the scheduler cannot honour.</exception>
    public DiffusionScheduler Create(string name, SchedulerConfig config, int numInferenceSteps)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(config);
        return Find(name).Create(config, numInferenceSteps);
    }

    /// <summary>The scheduler name for a diffusers class (the config's <c>_class_name</c>), or null when none is
    /// registered for it (unknown classes, no class).</summary>
    public string? NameForClass(string? className) =>
        className is not null && byClass.TryGetValue(className, out var row) ? row.Name : null;

    /// <summary>The row of a name or alias.</summary>
    /// <exception cref="HierDiffInputException">The name is not registered.</exception>
    internal SchedulerRegistration Find(string name) =>
        byName.TryGetValue(name, out var row) ? row : throw new HierDiffInputException(UnknownNameMessage(name));

    /// <summary>The row a scheduler class registered under its own name.</summary>
    /// <exception cref="InvalidOperationException">No row has that name: a scheduler was added without its row.</exception>
    internal SchedulerRegistration Registration(string name) =>
        byName.TryGetValue(name, out var row) && row.Name == name
            ? row
            : throw new InvalidOperationException($"scheduler {name} has no row in {nameof(SchedulerRegistry)}");

    /// <summary>The fixed option with this key, if any registered scheduler takes it.</summary>
    internal FixedOption? FindFixedOption(string key) => fixedOptions.GetValueOrDefault(key);
}

/// <summary>One row of the <see cref="SchedulerRegistry"/>.</summary>
internal sealed class SchedulerRegistration
{
    private readonly Func<SchedulerConfig, int, DiffusionScheduler> factory;

    /// <param name="name">The name users write (lower case); also each instance's <see cref="DiffusionScheduler.Name"/>.</param>
    /// <param name="diffusersClasses">The diffusers <c>_class_name</c> values whose config means this scheduler.</param>
    /// <param name="factory">Makes the scheduler from a config and a step count.</param>
    /// <param name="fixedOptions">Diffusers options the class takes that are implemented only at one value.</param>
    /// <param name="aliases">Other names accepted for it.</param>
    public SchedulerRegistration(
        string name,
        IReadOnlyList<string> diffusersClasses,
        Func<SchedulerConfig, int, DiffusionScheduler> factory,
        IReadOnlyList<FixedOption> fixedOptions,
        IReadOnlyList<string>? aliases = null)
    {
        Name = name;
        DiffusersClasses = diffusersClasses;
        this.factory = factory;
        FixedOptions = fixedOptions;
        Aliases = aliases ?? [];
    }

    public string Name { get; }

    public IReadOnlyList<string> DiffusersClasses { get; }

    /// <summary>A config that sets one of these otherwise is refused by this scheduler and ignored by the others,
    /// as diffusers ignores keys a class does not take.</summary>
    public IReadOnlyList<FixedOption> FixedOptions { get; }

    public IReadOnlyList<string> Aliases { get; }

    public DiffusionScheduler Create(SchedulerConfig config, int numInferenceSteps) => factory(config, numInferenceSteps);

    /// <summary>Refuses a config that sets one of this scheduler's fixed options to another value.</summary>
    /// <exception cref="HierDiffInputException">Such an option is set.</exception>
    public void EnsureSupported(SchedulerConfig config)
    {
        foreach (var option in FixedOptions)
        {
            if (config.UnsupportedOptions.TryGetValue(option.Key, out var text))
            {
                throw new HierDiffInputException(
                    $"{config.Source}: key '{option.Key}' is {text}; scheduler {Name} supports only {option.Supported}");
            }
        }
    }
}
