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

/// <summary>How a run's scheduler was chosen, as the plan records it.</summary>
public static class SchedulerFrom
{
    /// <summary>The user's <c>--scheduler</c> (options.scheduler).</summary>
    public const string Option = "option";

    /// <summary>The preset's (<c>--preset</c>, options.preset), where the user chose none.</summary>
    public const string Preset = "preset";

    /// <summary>The one the model's scheduler_config.json names in <c>_class_name</c>.</summary>
    public const string Model = "model";

    /// <summary>DDPM, the paper's: the model's scheduler_config.json names no class.</summary>
    public const string Default = "default";
}

/// <summary>A run's scheduler: its name, how it was chosen (<see cref="SchedulerFrom"/>), and the denoiser steps
/// its plan has (<see cref="DiffusionScheduler.StepCount"/>: more than options.steps for PNDM).</summary>
public sealed record SchedulerChoice(string Name, string From, int Steps);

/// <summary>
/// How a run's options become what it runs, in one place for every host (PrepareRun, and <c>hierdiff plan</c>):
/// the scheduler from the user's choice or the model's config, and tau from the user's value, a savings target
/// (the smallest tau that reaches it) or the default. The options are checked first by
/// <see cref="GenerationOptions.Validate"/>.
/// </summary>
public static class RunResolution
{
    /// <summary>The user's scheduler, else the preset's, else the one the model's scheduler_config.json names (its <c>_class_name</c>),
    /// else DDPM (the paper's) when it names none; made once here so that a config it cannot honour is refused
    /// before any work.</summary>
    /// <exception cref="HierDiffInputException">The config names a class HierDiff has no scheduler for and the user
    /// chose none, or the scheduler cannot honour the config or the step count.</exception>
    public static SchedulerChoice Scheduler(GenerationOptions options, SchedulerConfig config)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(config);
        (string name, string from) = options.Scheduler is { } chosen ? (chosen, SchedulerFrom.Option)
            : options.PresetSettings() is RunPreset preset ? (preset.Scheduler, SchedulerFrom.Preset)
            : config.ClassName is null ? (SchedulerFactory.Ddpm, SchedulerFrom.Default)
            : (SchedulerFactory.NameForClass(config.ClassName) ?? throw UnsupportedClass(config), SchedulerFrom.Model);
        DiffusionScheduler scheduler = SchedulerFactory.Create(name, config, options.Steps);
        return new SchedulerChoice(name, from, scheduler.StepCount);
    }

    /// <summary>Tau and how it was chosen; standard generation shares nothing (tau 0). <paramref name="steps"/>:
    /// the plan's denoiser steps (<see cref="SchedulerChoice.Steps"/>); null: options.steps.</summary>
    public static (double Tau, string From) Tau(GenerationOptions options, Linkage tree, int? steps = null)
    {
        if (options.Mode == GenerationMode.Standard)
        {
            return (0, TauFrom.Standard);
        }

        return options.TargetSavings is double target
            ? (TauSearch.SmallestTauForSavings(tree, steps ?? options.Steps, target, options.Schedule()), TauFrom.TargetSavings)
            : options.Tau is double given ? (given, TauFrom.Option) : (GenerationOptions.DefaultTau, TauFrom.Default);
    }

    private static HierDiffInputException UnsupportedClass(SchedulerConfig config) => new(
        $"{config.Source}: key '_class_name' is '{config.ClassName}', a scheduler HierDiff does not have; supported: "
        + $"{string.Join(", ", SchedulerRegistry.Default.DiffusersClasses)}. Pick one with --scheduler NAME "
        + $"(options.scheduler): {string.Join(", ", SchedulerFactory.Names)}");
}
