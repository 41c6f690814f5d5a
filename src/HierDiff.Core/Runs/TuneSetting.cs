using System.Globalization;
using System.Text.Json.Serialization;

namespace HierDiff.Core.Runs;

/// <summary>
/// A savings target and a split schedule (<see cref="Planning.SplitSchedule"/>): one rung of <c>hierdiff tune</c>'s
/// ladder, and what its tune.json recommends. <c>generate --tune FILE</c> and the HTTP API's <c>tune</c> (a blob in
/// the tunes container) both read the recommendation here and apply it with <see cref="ApplyTo"/>.
/// </summary>
public sealed record TuneSetting(double TargetSavings, double SplitShape, int PrivateSteps)
{
    /// <summary>The folder of this rung's run under tune's runs/.</summary>
    [JsonIgnore]
    public string Folder => string.Create(CultureInfo.InvariantCulture, $"t{TargetSavings:0.##}-g{SplitShape:0.##}-l{PrivateSteps}");

    /// <summary>
    /// tune.json's <c>recommended</c> setting, checked as options of a run of the file's <c>steps</c>; the file
    /// names the problem where it recommends nothing or is not a tune.json.
    /// </summary>
    public static TuneSetting ReadRecommendation(string path, byte[] json)
    {
        JsonField root = JsonField.Parse(path, json);
        if (root.OptionalProperty("recommended") is not JsonField recommended)
        {
            string why = root.OptionalProperty("no_recommendation")?.String() ?? "none was found";
            throw new HierDiffInputException($"{path}: recommends no setting ({why})");
        }

        var setting = new TuneSetting(
            recommended.Property("target_savings").Double(),
            recommended.Property("split_shape").Double(),
            recommended.Property("private_steps").Int(0, GenerationOptions.MaxSteps));
        int steps = root.Property("steps").Int(1, GenerationOptions.MaxSteps);
        try
        {
            new GenerationOptions { TargetSavings = setting.TargetSavings, SplitShape = setting.SplitShape, PrivateSteps = setting.PrivateSteps, Steps = steps }.Validate();
        }
        catch (HierDiffInputException e)
        {
            throw new HierDiffInputException($"{path}: recommended: {e.Message}", e);
        }

        return setting;
    }

    /// <summary>The options with this setting's target and schedule (refused as <see cref="CheckOptionsLeaveItOpen"/> says).</summary>
    public GenerationOptions ApplyTo(GenerationOptions options)
    {
        CheckOptionsLeaveItOpen(options);
        return options with { TargetSavings = TargetSavings, SplitShape = SplitShape, PrivateSteps = PrivateSteps };
    }

    /// <summary>Options that choose their own savings (a tau or a target) or schedule (a shape other than 1, private
    /// steps) are refused: the tune file gives those. Hosts check this before they read the file.</summary>
    public static void CheckOptionsLeaveItOpen(GenerationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Tau is not null || options.TargetSavings is not null || options.SplitShape != 1.0 || options.PrivateSteps != 0)
        {
            throw new HierDiffInputException(
                "--tune (tune) gives the savings target and split schedule: give it without --tau, --target-savings, --split-shape and --private-steps " +
                "(options.tau, target_savings, split_shape, private_steps)");
        }
    }
}
