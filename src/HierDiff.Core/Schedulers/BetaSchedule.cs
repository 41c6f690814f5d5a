namespace HierDiff.Core.Schedulers;

/// <summary>How the training betas run from beta_start to beta_end (diffusers <c>beta_schedule</c>).</summary>
public enum BetaSchedule
{
    /// <summary><c>linear</c>: betas = linspace(beta_start, beta_end, T).</summary>
    Linear,

    /// <summary><c>scaled_linear</c>: betas = linspace(sqrt(beta_start), sqrt(beta_end), T)^2 (Stable Diffusion).</summary>
    ScaledLinear,

    /// <summary><c>squaredcos_cap_v2</c>: the cosine schedule of Nichol and Dhariwal (2021), alpha_bar(t) =
    /// cos((t + 0.008) / 1.008 * pi / 2)^2, betas capped at 0.999; beta_start and beta_end are not used.</summary>
    SquaredCosCapV2,
}
