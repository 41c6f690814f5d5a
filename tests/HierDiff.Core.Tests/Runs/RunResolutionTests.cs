using HierDiff.Core.Runs;
using HierDiff.Core.Schedulers;

namespace HierDiff.Core.Tests.Runs;

/// <summary>Which scheduler a run uses and how the plan records why: the user's, else the export's own, else DDPM.</summary>
public class RunResolutionTests
{
    private static SchedulerConfig Config(string json) => SchedulerConfig.Parse(json, "model/scheduler/scheduler_config.json");

    [Fact]
    public void TheExportsOwnSchedulerIsTheDefault()
    {
        var sd15 = SchedulerConfig.Load(TestPaths.Data("schedulers", "sd15_scheduler_config.json"));
        Assert.Equal(
            new SchedulerChoice(SchedulerFactory.Pndm, SchedulerFrom.Model, 51),
            RunResolution.Scheduler(new GenerationOptions { Steps = 50 }, sd15));
    }

    [Fact]
    public void TheBuiltInModelKeepsDdpm()
    {
        var builtIn = SchedulerConfig.Load(TestPaths.Data("schedulers", "builtin_scheduler_config.json"));
        Assert.Equal(
            new SchedulerChoice(SchedulerFactory.Ddpm, SchedulerFrom.Model, 40),
            RunResolution.Scheduler(new GenerationOptions { Steps = 40 }, builtIn));
    }

    [Fact]
    public void TheUsersChoiceWinsOverTheExports()
    {
        var config = Config("""{ "_class_name": "PNDMScheduler", "skip_prk_steps": true }""");
        Assert.Equal(
            new SchedulerChoice(SchedulerFactory.Ddim, SchedulerFrom.Option, 20),
            RunResolution.Scheduler(new GenerationOptions { Steps = 20, Scheduler = SchedulerFactory.Ddim }, config));
    }

    [Fact]
    public void AConfigThatNamesNoClassGetsDdpm()
    {
        Assert.Equal(
            new SchedulerChoice(SchedulerFactory.Ddpm, SchedulerFrom.Default, 20),
            RunResolution.Scheduler(new GenerationOptions { Steps = 20 }, Config("{}")));
    }

    [Fact]
    public void AClassHierDiffDoesNotHaveIsRefusedUnlessTheUserPicksAScheduler()
    {
        var config = Config("""{ "_class_name": "HeunDiscreteScheduler" }""");
        var error = Assert.Throws<HierDiffInputException>(() => RunResolution.Scheduler(new GenerationOptions { Steps = 20 }, config));
        Assert.Equal(
            "model/scheduler/scheduler_config.json: key '_class_name' is 'HeunDiscreteScheduler', a scheduler HierDiff does not "
            + $"have; supported: {string.Join(", ", SchedulerRegistry.Default.DiffusersClasses)}. Pick one with --scheduler "
            + $"NAME (options.scheduler): {string.Join(", ", SchedulerFactory.Names)}",
            error.Message);
        Assert.Contains("DDPMScheduler, DDIMScheduler", error.Message);

        Assert.Equal(
            new SchedulerChoice(SchedulerFactory.Euler, SchedulerFrom.Option, 20),
            RunResolution.Scheduler(new GenerationOptions { Steps = 20, Scheduler = SchedulerFactory.Euler }, config));
    }

    [Fact]
    public void AConfigTheChosenSchedulerCannotHonourIsRefusedHere()
    {
        // Before any work: RunResolution makes the scheduler once.
        var config = Config("""{ "_class_name": "PNDMScheduler" }""");
        var error = Assert.Throws<HierDiffInputException>(() => RunResolution.Scheduler(new GenerationOptions { Steps = 3 }, config));
        Assert.Contains("key 'skip_prk_steps'", error.Message);
    }
}
