using HierDiff.Core.Schedulers;
using static HierDiff.Core.Tests.Schedulers.SchedulerTestKit;

namespace HierDiff.Core.Tests.Schedulers;

/// <summary>What PNDM does besides the numbers SchedulerReferenceTests compares: its extra denoiser calls, its
/// defaults and what it refuses.</summary>
public class PndmSchedulerTests
{
    [Fact]
    public void PlmsRunsTheSecondTimestepTwice()
    {
        // SD 1.5: leading spacing, steps_offset 1, skip_prk_steps true.
        var scheduler = SchedulerFactory.Create(SchedulerFactory.Pndm, Sd15, 10);
        Assert.Equal(10, scheduler.NumInferenceSteps);
        Assert.Equal(11, scheduler.StepCount);
        Assert.Equal([901, 801, 801, 701, 601, 501, 401, 301, 201, 101, 1], scheduler.Timesteps);
        Assert.Equal([1.0], SchedulerFactory.Create(SchedulerFactory.Pndm, Sd15, 1).Timesteps);
    }

    [Fact]
    public void RungeKuttaStartRunsTwelveCallsBeforePlms()
    {
        // diffusers' default (skip_prk_steps false): 4 calls per Runge-Kutta step, at t, the midpoint twice, t - T/K.
        var scheduler = SchedulerFactory.Create(SchedulerFactory.Pndm, new SchedulerConfig(), 10);
        Assert.Equal(19, scheduler.StepCount);
        Assert.Equal(
            [900, 850, 850, 800, 800, 750, 750, 700, 700, 650, 650, 600, 600, 500, 400, 300, 200, 100, 0],
            scheduler.Timesteps);
    }

    [Theory]
    [InlineData("{}", "is not set (diffusers' default false)")]
    [InlineData("""{ "skip_prk_steps": false }""", "is false")]
    public void RungeKuttaStartWithFewerThanFourStepsIsRefused(string json, string how)
    {
        var config = SchedulerConfig.Parse(json, "cfg.json");
        var error = Assert.Throws<HierDiffInputException>(() => SchedulerFactory.Create(SchedulerFactory.Pndm, config, 3));
        Assert.Equal(
            $"cfg.json: key 'skip_prk_steps' {how}: scheduler pndm's Runge-Kutta start needs at least 4 steps, not 3; "
            + "use more steps, or set skip_prk_steps to true",
            error.Message);
        Assert.Equal(4, SchedulerFactory.Create(SchedulerFactory.Pndm, config, 4).NumInferenceSteps);
    }

    [Fact]
    public void SamplePredictionIsRefusedAsDiffusersDoes()
    {
        var error = Assert.Throws<HierDiffInputException>(
            () => SchedulerFactory.Create(SchedulerFactory.Pndm, Sd15 with { PredictionType = PredictionType.Sample }, 10));
        Assert.EndsWith("key 'prediction_type' is 'sample'; scheduler pndm supports: epsilon, v_prediction", error.Message);
    }

    [Fact]
    public void SetAlphaToOneDefaultsToFalseForPndmAndTrueForDdim()
    {
        var config = SchedulerConfig.Parse("""{ "skip_prk_steps": true }""", "cfg.json");
        Assert.False(SchedulerFactory.Create(SchedulerFactory.Pndm, config, 10).Config.SetAlphaToOne);
        Assert.True(SchedulerFactory.Create(SchedulerFactory.Ddim, config, 10).Config.SetAlphaToOne);
        Assert.Equal(
            SchedulerFactory.Create(SchedulerFactory.Pndm, config with { SetAlphaToOne = false }, 10).Fingerprint,
            SchedulerFactory.Create(SchedulerFactory.Pndm, config, 10).Fingerprint);
        Assert.NotEqual(
            SchedulerFactory.Create(SchedulerFactory.Pndm, config with { SetAlphaToOne = true }, 10).Fingerprint,
            SchedulerFactory.Create(SchedulerFactory.Pndm, config, 10).Fingerprint);
    }

    [Fact]
    public void SkipPrkStepsJoinsOnlyPndmsFingerprint()
    {
        // Other schedulers ignore the key, and their fingerprints stay those of earlier builds (StateFormatTests).
        Assert.Contains(";skip_prk_steps=True", SchedulerFactory.Create(SchedulerFactory.Pndm, Sd15, 10).Fingerprint);
        Assert.NotEqual(
            SchedulerFactory.Create(SchedulerFactory.Pndm, Sd15, 10).Fingerprint,
            SchedulerFactory.Create(SchedulerFactory.Pndm, Sd15 with { SkipPrkSteps = false }, 10).Fingerprint);
        Assert.All(
            SchedulerFactory.Names.Where(n => n != SchedulerFactory.Pndm),
            name => Assert.DoesNotContain("skip_prk_steps", SchedulerFactory.Create(name, Sd15, 10).Fingerprint));
    }
}
