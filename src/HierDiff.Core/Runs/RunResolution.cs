using HierDiff.Core.Clustering;
using HierDiff.Core.Planning;
using HierDiff.Core.Schedulers;

namespace HierDiff.Core.Runs;

/// <summary>How a run's tau was chosen, as the plan records it.</summary>
public static class TauFrom
{
    public const string Option = "tau";
    public const string TargetSavings = "target_savings";
    public const string Default = "default";
    public const string Standard = "standard";
}

/// <summary>
/// How a run's options become what it runs, in one place for every host (PrepareRun, and <c>hierdiff plan</c>):
/// the scheduler from the user's choice or the model's config, and tau from the user's value, a savings target
/// (the smallest tau that reaches it) or the default. The options are checked first by
/// <see cref="GenerationOptions.Validate"/>.
/// </summary>
public static class RunResolution
{
    /// <summary>The user's scheduler, else the one the model's scheduler_config.json names where HierDiff has it,
    /// else DDPM (the paper's); made once here so that a config it cannot honour is refused before any work.</summary>
    public static string Scheduler(GenerationOptions options, SchedulerConfig config)
    {
        string name = options.Scheduler ?? SchedulerFactory.NameForClass(config.ClassName) ?? SchedulerFactory.Ddpm;
        SchedulerFactory.Create(name, config, options.Steps);
        return name;
    }

    /// <summary>Tau and how it was chosen; standard generation shares nothing (tau 0).</summary>
    public static (double Tau, string From) Tau(GenerationOptions options, Linkage tree)
    {
        if (options.Mode == GenerationMode.Standard)
        {
            return (0, TauFrom.Standard);
        }

        return options.TargetSavings is double target
            ? (TauSearch.SmallestTauForSavings(tree, options.Steps, target), TauFrom.TargetSavings)
            : options.Tau is double given ? (given, TauFrom.Option) : (GenerationOptions.DefaultTau, TauFrom.Default);
    }
}
