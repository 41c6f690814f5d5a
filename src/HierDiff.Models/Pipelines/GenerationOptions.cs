using HierDiff.Core;

namespace HierDiff.Models.Pipelines;

public enum GenerationMode
{
    /// <summary>Similar prompts share their early steps, as the plan says.</summary>
    Hierarchical,

    /// <summary>Every prompt alone for every step: the baseline.</summary>
    Standard,
}

/// <summary>How to generate. Defaults follow the paper (K = 40, DDPM, seed 42, 32 clusters a call) and
/// Stable Diffusion (guidance 7.5).</summary>
public sealed record GenerationOptions
{
    public const double DefaultTau = 1.0;

    public GenerationMode Mode { get; init; } = GenerationMode.Hierarchical;

    /// <summary>The paper's tau; when neither it nor <see cref="TargetSavings"/> is set, 1.0.</summary>
    public double? Tau { get; init; }

    /// <summary>Use the smallest tau whose plan saves at least this fraction of denoiser calls.</summary>
    public double? TargetSavings { get; init; }

    public int Steps { get; init; } = 40;

    /// <summary>A scheduler name (ddpm, ddim, euler, euler-ancestral, dpm++2m, flow-euler); null: the one the
    /// model's scheduler_config.json names, or ddpm, the paper's.</summary>
    public string? Scheduler { get; init; }

    public double Guidance { get; init; } = 7.5;

    public ulong Seed { get; init; } = 42;

    /// <summary>Most latents per UNet call (each guided latent is two rows of the call).</summary>
    public int MaxBatch { get; init; } = 32;

    public string NegativePrompt { get; init; } = "";

    public void Validate()
    {
        if (Tau is not null && TargetSavings is not null)
        {
            throw new HierDiffInputException("give at most one of --tau and --target-savings");
        }

        if (Steps < 1)
        {
            throw new HierDiffInputException($"--steps must be at least 1, not {Steps}");
        }

        if (MaxBatch < 1)
        {
            throw new HierDiffInputException($"--max-batch must be at least 1, not {MaxBatch}");
        }

        if (!double.IsFinite(Guidance) || Guidance < 0)
        {
            throw new HierDiffInputException($"--guidance must be a finite number >= 0, not {Guidance}");
        }
    }
}
