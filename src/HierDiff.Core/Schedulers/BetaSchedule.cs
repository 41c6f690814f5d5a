namespace HierDiff.Core.Schedulers;

/// <summary>How the training betas run from beta_start to beta_end (diffusers <c>beta_schedule</c>).</summary>
public enum BetaSchedule
{
    /// <summary><c>linear</c>: betas = linspace(beta_start, beta_end, T).</summary>
    Linear,

    /// <summary><c>scaled_linear</c>: betas = linspace(sqrt(beta_start), sqrt(beta_end), T)^2 (Stable Diffusion).</summary>
    ScaledLinear,
}
