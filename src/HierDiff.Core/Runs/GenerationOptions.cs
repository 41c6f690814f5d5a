using HierDiff.Core.Planning;

namespace HierDiff.Core.Runs;

public enum GenerationMode
{
    /// <summary>Similar prompts share their early steps, as the plan says.</summary>
    Hierarchical,

    /// <summary>Every prompt alone for every step: the baseline.</summary>
    Standard,
}

/// <summary>How to generate: the run's options, the wire contract of the HTTP API and of Durable messages (so in
/// Core, below every host). Defaults follow the paper (K = 40, seed 42, 32 clusters a call), the model's own
/// scheduler, Stable Diffusion's guidance 7.5 and per-prompt noise; <see cref="Preset"/> "paper" gives the authors'
/// DDPM, guidance 10 and one starting latent for all prompts to the options left out.</summary>
public sealed record GenerationOptions
{
    public const double DefaultTau = 1.0;

    /// <summary>Stable Diffusion's guidance scale.</summary>
    public const double DefaultGuidance = 7.5;

    public GenerationMode Mode { get; init; } = GenerationMode.Hierarchical;

    /// <summary>The paper's tau; when neither it nor <see cref="TargetSavings"/> is set, 1.0.</summary>
    public double? Tau { get; init; }

    /// <summary>Use the smallest tau whose plan saves at least this fraction of denoiser calls.</summary>
    public double? TargetSavings { get; init; }

    public int Steps { get; init; } = 40;

    /// <summary>G of <see cref="SplitSchedule"/>: phi(k) = tau (1 - k / (K' - 1))^G; 1, the paper's linear fall.</summary>
    public double SplitShape { get; init; } = 1.0;

    /// <summary>L of <see cref="SplitSchedule"/>: phi is 0 for the last L steps, so each prompt runs at least its
    /// last L + 1 steps on its own conditioning; 0, the paper's.</summary>
    public int PrivateSteps { get; init; }

    /// <summary>A scheduler name or alias from <see cref="Schedulers.SchedulerRegistry"/>; null: the one the
    /// model's scheduler_config.json names (refused if HierDiff has none for it), or ddpm, the paper's, where it
    /// names none.</summary>
    public string? Scheduler { get; init; }

    /// <summary>The classifier-free guidance scale; null: the preset's, else <see cref="DefaultGuidance"/>. What a
    /// run uses is <see cref="GuidanceScale"/>.</summary>
    public double? Guidance { get; init; }

    /// <summary>A <see cref="RunPreset"/> name ("paper"), or null: it fills the options left out.</summary>
    public string? Preset { get; init; }

    /// <summary>Where trajectories start; null: the preset's, else each prompt's own noise. What a run uses is
    /// <see cref="StartingLatentUsed"/>.</summary>
    public StartingLatent? StartingLatent { get; init; }

    public ulong Seed { get; init; } = 42;

    /// <summary>Most latents per UNet call (each guided latent is two rows of the call).</summary>
    public int MaxBatch { get; init; } = 32;

    public string NegativePrompt { get; init; } = "";

    /// <summary>Up to this many prompts the tree is scipy's exact Ward tree; above it, exact trees of shards of at most
    /// this many under a top tree (<see cref="Clustering.PromptTree"/>).</summary>
    public int MaxExact { get; init; } = Clustering.PromptTree.DefaultMaxExact;

    /// <summary>Most denoising steps a run may ask for (diffusers' schedulers train on 1,000 timesteps).</summary>
    public const int MaxSteps = 1_000;

    /// <summary>Most latents per UNet call.</summary>
    public const int MaxMaxBatch = 1_024;

    /// <summary>Largest guidance scale: far above any useful one (Stable Diffusion uses 1-20), low enough that the
    /// guided prediction cannot overflow to blank images.</summary>
    public const double MaxGuidance = 100;

    /// <summary>How the run's threshold falls (<see cref="SplitShape"/>, <see cref="PrivateSteps"/>).</summary>
    public SplitSchedule Schedule() => new(SplitShape, PrivateSteps);

    /// <summary>The preset these options name, or null.</summary>
    public RunPreset? PresetSettings() => RunPreset.Find(Preset);

    /// <summary>The guidance scale the run uses: the option, else the preset's, else 7.5.</summary>
    public double GuidanceScale() => Guidance ?? PresetSettings()?.Guidance ?? DefaultGuidance;

    /// <summary>Where the run's trajectories start: the option, else the preset's, else per prompt.</summary>
    public StartingLatent StartingLatentUsed() => StartingLatent ?? PresetSettings()?.StartingLatent ?? Runs.StartingLatent.PerPrompt;

    /// <summary>The wire name of a starting latent, as the HTTP API, plan.json and manifest.json spell it.</summary>
    public static string StartingLatentName(StartingLatent start) => start == Runs.StartingLatent.Shared ? "shared" : "per_prompt";

    /// <summary>A starting latent as the command line spells it (per-prompt, shared) or the HTTP API does.</summary>
    public static StartingLatent ParseStartingLatent(string name) => name switch
    {
        "per-prompt" or "per_prompt" => Runs.StartingLatent.PerPrompt,
        "shared" => Runs.StartingLatent.Shared,
        _ => throw Refuse("starting_latent", $"'{name}' is not a starting latent; use per-prompt or shared"),
    };

    public static GenerationMode ParseMode(string name) => name switch
    {
        "hierarchical" => GenerationMode.Hierarchical,
        "standard" => GenerationMode.Standard,
        _ => throw Refuse("mode", $"'{name}' is not a mode; use hierarchical or standard"),
    };

    /// <summary>
    /// The one check of a run's options, for every host (the CLI, the HTTP API and the Prepare activity): each
    /// problem names the option as the command line spells it and as the HTTP API does. With
    /// <paramref name="promptCount"/>, a savings target no plan of that many prompts can reach is refused too.
    /// </summary>
    /// <exception cref="HierDiffInputException">The first problem found.</exception>
    public void Validate(int? promptCount = null, int maxPromptLength = Prompts.PromptFileLimits.DefaultMaxPromptLength)
    {
        if (!Enum.IsDefined(Mode))
        {
            throw Refuse("mode", $"{(int)Mode} is not a mode; use hierarchical or standard");
        }

        if (Tau is not null && TargetSavings is not null)
        {
            throw new HierDiffInputException("give at most one of --tau (options.tau) and --target-savings (options.target_savings)");
        }

        if (Tau is double tau && !(double.IsFinite(tau) && tau >= 0))
        {
            throw Refuse("tau", $"must be a finite number of 0 or more, not {Show(tau)}");
        }

        if (TargetSavings is double target && !(double.IsFinite(target) && target >= 0 && target < 1))
        {
            throw Refuse("target_savings", $"must be a fraction from 0 up to (not including) 1, not {Show(target)}");
        }

        if (Steps is < 1 or > MaxSteps)
        {
            throw Refuse("steps", $"must be from 1 to {MaxSteps}, not {Steps}");
        }

        if (!(double.IsFinite(SplitShape) && SplitShape > 0 && SplitShape <= SplitSchedule.MaxShape))
        {
            throw Refuse("split_shape", $"must be a number above 0 and at most {SplitSchedule.MaxShape} (1 is the paper's schedule), not {Show(SplitShape)}");
        }

        if (PrivateSteps < 0 || PrivateSteps >= Steps)
        {
            throw Refuse("private_steps", $"must be from 0 to {Steps - 1} (fewer than the {Steps} steps), not {PrivateSteps}");
        }

        if (MaxExact is < 2 or > Clustering.PromptTree.MaxMaxExact)
        {
            throw Refuse("max_exact", $"must be from 2 to {Clustering.PromptTree.MaxMaxExact} prompts (their distances take 4 bytes x N^2), not {MaxExact}");
        }

        if (MaxBatch is < 1 or > MaxMaxBatch)
        {
            throw Refuse("max_batch", $"must be from 1 to {MaxMaxBatch}, not {MaxBatch}");
        }

        if (Preset is not null && RunPreset.Find(Preset) is null)
        {
            throw Refuse("preset", $"'{Preset}' is not a preset; use {string.Join(" or ", RunPreset.All.Select(p => p.Name))}");
        }

        if (Guidance is double guidance && !(double.IsFinite(guidance) && guidance >= 0 && guidance <= MaxGuidance))
        {
            throw Refuse("guidance", $"must be a number from 0 to {MaxGuidance}, not {Show(guidance)}");
        }

        if (StartingLatent is Runs.StartingLatent start && !Enum.IsDefined(start))
        {
            throw Refuse("starting_latent", $"{(int)start} is not a starting latent; use per_prompt or shared");
        }

        if (Scheduler is not null && !Schedulers.SchedulerRegistry.Default.IsKnown(Scheduler))
        {
            throw Refuse("scheduler", Schedulers.SchedulerRegistry.Default.UnknownNameMessage(Scheduler));
        }

        if (NegativePrompt is null)
        {
            throw Refuse("negative_prompt", "must be a string (\"\" for none), not null");
        }

        if (NegativePrompt.Length > maxPromptLength)
        {
            throw Refuse("negative_prompt", $"is {NegativePrompt.Length} characters long; the limit is {maxPromptLength} ({Prompts.PromptFileLimits.Setting("MaxPromptLength")})");
        }

        // Every prompt keeps at least its own last step, so even one cluster for all others costs K - 1 + 1 calls.
        if (Mode == GenerationMode.Hierarchical && TargetSavings is double wanted && promptCount is int n && wanted > 1.0 - (1.0 / n))
        {
            throw Refuse("target_savings", $"{Show(wanted)} is out of reach: {n} prompt{(n == 1 ? "" : "s")} can save at most {Show(1.0 - (1.0 / n))} of the denoiser calls");
        }
    }

    /// <summary>An option's problem, naming it as the command line (--max-batch) and the HTTP API (options.max_batch) do.</summary>
    private static HierDiffInputException Refuse(string field, string problem) =>
        new($"--{field.Replace('_', '-')} (options.{field}): {problem}");

    private static string Show(double value) => value.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
}
