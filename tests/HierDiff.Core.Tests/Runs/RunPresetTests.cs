using HierDiff.Core.Runs;
using HierDiff.Core.Schedulers;

namespace HierDiff.Core.Tests.Runs;

/// <summary>--preset paper gives the options left out the authors' settings (ddecatur/hierarchical-diffusion
/// config.py: DDPM, 40 steps, guidance 10, tau 1, max batch 32, seed 42; main.py: one starting latent for all).</summary>
public class RunPresetTests
{
    private static readonly SchedulerConfig Sd15 = SchedulerConfig.Load(TestPaths.Data("schedulers", "sd15_scheduler_config.json"));

    [Fact]
    public void ThePaperPresetIsTheAuthorsConfig()
    {
        var options = new GenerationOptions { Preset = "paper" };
        options.Validate();
        Assert.Equal(new SchedulerChoice(SchedulerFactory.Ddpm, SchedulerFrom.Preset, 40), RunResolution.Scheduler(options, Sd15));
        Assert.Equal(10.0, options.GuidanceScale());
        Assert.Equal(StartingLatent.Shared, options.StartingLatentUsed());
        Assert.Equal((40, 42ul, 32), (options.Steps, options.Seed, options.MaxBatch));
        Assert.Equal(1.0, GenerationOptions.DefaultTau);
    }

    [Fact]
    public void WithoutAPresetARunKeepsHierDiffsDefaults()
    {
        var options = new GenerationOptions();
        Assert.Equal(SchedulerFrom.Model, RunResolution.Scheduler(options, Sd15).From);
        Assert.Equal(7.5, options.GuidanceScale());
        Assert.Equal(StartingLatent.PerPrompt, options.StartingLatentUsed());
    }

    [Fact]
    public void OptionsGivenExplicitlyWinOverThePresets()
    {
        var options = new GenerationOptions { Preset = "paper", Guidance = 7.5, Scheduler = SchedulerFactory.Ddim, StartingLatent = StartingLatent.PerPrompt };
        Assert.Equal(new SchedulerChoice(SchedulerFactory.Ddim, SchedulerFrom.Option, 40), RunResolution.Scheduler(options, Sd15));
        Assert.Equal(7.5, options.GuidanceScale());
        Assert.Equal(StartingLatent.PerPrompt, options.StartingLatentUsed());
    }

    [Theory]
    [InlineData("papr", "--preset (options.preset): 'papr' is not a preset; use paper")]
    [InlineData("", "--preset (options.preset): '' is not a preset; use paper")]
    public void AnUnknownPresetIsRefusedNamingTheOption(string preset, string message)
    {
        var error = Assert.Throws<HierDiffInputException>(() => new GenerationOptions { Preset = preset }.Validate());
        Assert.Equal(message, error.Message);
    }

    [Theory]
    [InlineData("per-prompt", StartingLatent.PerPrompt)]
    [InlineData("per_prompt", StartingLatent.PerPrompt)]
    [InlineData("shared", StartingLatent.Shared)]
    public void StartingLatentsParseAsTheCommandLineAndTheHttpApiSpellThem(string name, StartingLatent expected)
    {
        Assert.Equal(expected, GenerationOptions.ParseStartingLatent(name));
    }

    [Fact]
    public void AnUnknownStartingLatentIsRefusedNamingTheOption()
    {
        var error = Assert.Throws<HierDiffInputException>(() => GenerationOptions.ParseStartingLatent("one"));
        Assert.Equal("--starting-latent (options.starting_latent): 'one' is not a starting latent; use per-prompt or shared", error.Message);
    }
}
