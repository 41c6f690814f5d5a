using HierDiff.Core.Clustering;

namespace HierDiff.Cli.Commands;

/// <summary>How a run plans, the same on every command that plans (generate, plan, bench): the split schedule and
/// the largest exact tree.</summary>
internal sealed class PlanningOptions
{
    private readonly Option<double?> _shape = HierDiffCli.NumberOption(
        "--split-shape", "G: phi(k) = tau (1 - k/(K'-1))^G; above 1 clusters split sooner, below 1 later (default 1, the paper's)");

    private readonly Option<int> _private = new("--private-steps")
    {
        Description = "L: phi is 0 for the last L steps, so every prompt runs at least its last L + 1 steps alone (default 0, the paper's)",
        DefaultValueFactory = _ => 0,
    };

    private readonly Option<int> _maxExact = new("--max-exact")
    {
        Description = $"Up to this many prompts the tree is scipy's exact Ward tree; above, exact trees of shards of at most this many under a top tree (default {PromptTree.DefaultMaxExact})",
        DefaultValueFactory = _ => PromptTree.DefaultMaxExact,
    };

    public void AddTo(Command command)
    {
        command.Options.Add(_shape);
        command.Options.Add(_private);
        command.Options.Add(_maxExact);
    }

    /// <summary>Whether the command line gives either option.</summary>
    public bool Given(ParseResult parse) => parse.GetResult(_shape) is { Implicit: false } || parse.GetResult(_private) is { Implicit: false };

    /// <summary>The options with the schedule and the largest exact tree the command line gives.</summary>
    public GenerationOptions Apply(ParseResult parse, GenerationOptions options) =>
        options with { SplitShape = parse.GetValue(_shape) ?? 1.0, PrivateSteps = parse.GetValue(_private), MaxExact = parse.GetValue(_maxExact) };
}
