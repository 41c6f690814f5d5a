namespace HierDiff.Core.Schedulers;

/// <summary>How inference timesteps are picked from the training timesteps (diffusers <c>timestep_spacing</c>,
/// Table 2 of "Common Diffusion Noise Schedules and Sample Steps are Flawed").</summary>
public enum TimestepSpacing
{
    /// <summary><c>leading</c>: multiples of T/K from 0, plus steps_offset.</summary>
    Leading,

    /// <summary><c>trailing</c>: multiples of T/K down from T, minus one.</summary>
    Trailing,

    /// <summary><c>linspace</c>: evenly spaced from 0 to T-1.</summary>
    Linspace,
}
