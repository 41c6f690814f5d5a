using HierDiff.Core.Schedulers;

namespace HierDiff.Core.Runs;

/// <summary>Where every trajectory of a run starts.</summary>
public enum StartingLatent
{
    /// <summary>Each prompt's own noise (its stream's initial draw): standard generation of a prompt is the same
    /// whatever else is in the set. HierDiff's default.</summary>
    PerPrompt,

    /// <summary>One starting latent for the whole set (prompt 0's), as the paper's code draws one latent and gives
    /// it to every cluster. The noise of later steps stays each trajectory's own.</summary>
    Shared,
}

/// <summary>
/// A named set of a run's settings, for the options a user leaves out; options given explicitly win. "paper" is
/// the authors' released code (github.com/ddecatur/hierarchical-diffusion, <c>config.py</c> and <c>main.py</c>):
/// DDPM, guidance 10 and one starting latent for all prompts, with the rest at HierDiff's defaults, which are
/// already theirs (40 steps, tau 1, 32 clusters a call, seed 42). Their 512 px is Kandinsky 2.2's default size,
/// which HierDiff uses for it; other exports keep their own size.
/// </summary>
public sealed record RunPreset(string Name, string Scheduler, double Guidance, StartingLatent StartingLatent)
{
    public static readonly RunPreset Paper = new("paper", SchedulerFactory.Ddpm, 10.0, StartingLatent.Shared);

    public static readonly IReadOnlyList<RunPreset> All = [Paper];

    /// <summary>The preset of that name; null for none.</summary>
    public static RunPreset? Find(string? name) => All.FirstOrDefault(p => p.Name == name);
}
