using static HierDiff.Core.Tests.Schedulers.SchedulerTestKit;

namespace HierDiff.Core.Tests.Schedulers;

/// <summary>A diffusers scheduler_config.json is read as diffusers reads it, and bad values are reported with
/// the file and the key.</summary>
public class SchedulerConfigTests
{
    [Fact]
    public void ReadsTheStableDiffusion15Config()
    {
        var config = Sd15;
        Assert.Equal("PNDMScheduler", config.ClassName);
        Assert.Equal(1000, config.NumTrainTimesteps);
        Assert.Equal(0.00085, config.BetaStart);
        Assert.Equal(0.012, config.BetaEnd);
        Assert.Equal(BetaSchedule.ScaledLinear, config.BetaSchedule);
        Assert.Equal(1, config.StepsOffset);
        Assert.False(config.SetAlphaToOne);
        Assert.False(config.ClipSample);
        Assert.Null(config.TimestepSpacing);
        Assert.Equal(PredictionType.Epsilon, config.PredictionType);
        Assert.Equal(Sd15Path, config.Source);

        Assert.True(config.SkipPrkSteps);
        Assert.Equal(SchedulerFactory.Pndm, SchedulerFactory.NameForClass(config.ClassName));
    }

    [Fact]
    public void ReadsTheSd3FlowMatchingConfig()
    {
        var config = Sd3;
        Assert.Equal(3.0, config.Shift);
        Assert.Equal(SchedulerFactory.FlowEuler, SchedulerFactory.NameForClass(config.ClassName));
    }

    [Theory]
    [InlineData("DDPMScheduler", "ddpm")]
    [InlineData("DDIMScheduler", "ddim")]
    [InlineData("EulerDiscreteScheduler", "euler")]
    [InlineData("EulerAncestralDiscreteScheduler", "euler-ancestral")]
    [InlineData("DPMSolverMultistepScheduler", "dpm++2m")]
    [InlineData("FlowMatchEulerDiscreteScheduler", "flow-euler")]
    [InlineData("PNDMScheduler", "pndm")]
    [InlineData("LMSDiscreteScheduler", "lms")]
    [InlineData("UniPCMultistepScheduler", "unipc")]
    [InlineData("HeunDiscreteScheduler", null)]
    [InlineData(null, null)]
    public void MapsDiffusersClassNames(string? className, string? expected) =>
        Assert.Equal(expected, SchedulerFactory.NameForClass(className));

    [Fact]
    public void EmptyObjectGivesDiffusersDefaults()
    {
        var config = SchedulerConfig.Parse("{}", "empty.json");
        Assert.Equal(1000, config.NumTrainTimesteps);
        Assert.Equal(0.0001, config.BetaStart);
        Assert.Equal(0.02, config.BetaEnd);
        Assert.Equal(BetaSchedule.Linear, config.BetaSchedule);
        Assert.Equal(PredictionType.Epsilon, config.PredictionType);
        Assert.Equal(0, config.StepsOffset);
        Assert.Null(config.SetAlphaToOne);
        Assert.Null(config.SkipPrkSteps);
        Assert.Null(config.ClipSample);
        Assert.Equal(1.0, config.ClipSampleRange);
        Assert.Equal(1.0, config.Shift);
        Assert.Null(config.ClassName);
    }

    [Fact]
    public void UnknownKeysAndNullsAreIgnored()
    {
        var config = SchedulerConfig.Parse(
            """{ "skip_prk_steps": true, "something_new": [1, 2], "steps_offset": null, "sample_max_value": 1.0 }""",
            "extra.json");
        Assert.Equal(0, config.StepsOffset);
    }

    [Fact]
    public void AcceptsPythonsBareInfinityForLambdaMinClipped()
    {
        // diffusers saves DPMSolverMultistepScheduler's default lambda_min_clipped = -inf as bare -Infinity.
        var config = SchedulerConfig.Parse(
            """{ "_class_name": "DPMSolverMultistepScheduler", "lambda_min_clipped": -Infinity, "algorithm_type": "dpmsolver++", "solver_order": 2, "note": "-Infinity stays text" }""",
            "dpm.json");
        var scheduler = SchedulerFactory.Create(SchedulerFactory.DpmSolverMultistep, config, 20);
        Assert.Equal(20, scheduler.Timesteps.Count);
    }

    [Fact]
    public void UnsupportedBetaScheduleNamesFileKeyAndSupportedValues()
    {
        string path = WriteTemp("""{ "beta_schedule": "sigmoid" }""");
        var error = Assert.Throws<HierDiffInputException>(() => SchedulerConfig.Load(path));
        Assert.Equal($"{path}: key 'beta_schedule' is 'sigmoid'; supported: linear, scaled_linear, squaredcos_cap_v2", error.Message);
    }

    [Theory]
    [InlineData("""{ "prediction_type": "flow_prediction" }""", "key 'prediction_type' is 'flow_prediction'; supported: epsilon, v_prediction, sample")]
    [InlineData("""{ "timestep_spacing": "even" }""", "key 'timestep_spacing' is 'even'; supported: leading, trailing, linspace")]
    [InlineData("""{ "num_train_timesteps": "1000" }""", "key 'num_train_timesteps' must be an integer, not \"1000\"")]
    [InlineData("""{ "num_train_timesteps": 999.5 }""", "key 'num_train_timesteps' must be an integer, not 999.5")]
    [InlineData("""{ "beta_start": true }""", "key 'beta_start' must be a number, not true")]
    [InlineData("""{ "clip_sample": "no" }""", "key 'clip_sample' must be true or false, not \"no\"")]
    [InlineData("""{ "beta_schedule": 3 }""", "key 'beta_schedule' is 3; supported: linear, scaled_linear, squaredcos_cap_v2")]
    [InlineData("""{ "final_sigmas_type": "sigma_max" }""", "key 'final_sigmas_type' is 'sigma_max'; supported: zero, sigma_min")]
    [InlineData("""{ "solver_order": 0 }""", "key 'solver_order' is 0; it must be at least 1")]
    [InlineData("""{ "disable_corrector": [1, "x"] }""", "key 'disable_corrector' must be a list of integers, not [1, \"x\"]")]
    [InlineData("""{ "num_train_timesteps": 0 }""", "key 'num_train_timesteps' is 0; it must be between 1 and 1000000")]
    [InlineData("""{ "beta_end": 1.5 }""", "key 'beta_end' is 1.5; it must be above 0 and below 1")]
    [InlineData("""{ "steps_offset": -1 }""", "key 'steps_offset' is -1; it must not be negative")]
    [InlineData("""{ "shift": 0 }""", "key 'shift' is 0; it must be a positive number")]
    [InlineData("""[1, 2]""", "expected a JSON object, found an array")]
    public void BadValuesAreReportedWithFileAndKey(string json, string expected)
    {
        var error = Assert.Throws<HierDiffInputException>(() => SchedulerConfig.Parse(json, "models/sd/scheduler_config.json"));
        Assert.Equal($"models/sd/scheduler_config.json: {expected}", error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void InvalidJsonNamesTheFile()
    {
        var error = Assert.Throws<HierDiffInputException>(() => SchedulerConfig.Parse("{ \"beta_start\": 0.1, ", "broken.json"));
        Assert.StartsWith("broken.json: not valid JSON", error.Message);
    }

    [Fact]
    public void MissingFileIsInputError()
    {
        string path = Path.Combine(Path.GetTempPath(), "hierdiff-no-such-dir", "scheduler_config.json");
        var error = Assert.Throws<HierDiffInputException>(() => SchedulerConfig.Load(path));
        Assert.Equal($"{path}: file not found", error.Message);
    }

    [Theory]
    [InlineData("""{ "thresholding": true }""", "ddim", "key 'thresholding' is true; scheduler ddim supports only false")]
    [InlineData("""{ "thresholding": true }""", "ddpm", "key 'thresholding' is true; scheduler ddpm supports only false")]
    [InlineData("""{ "variance_type": "learned_range" }""", "ddpm", "key 'variance_type' is \"learned_range\"; scheduler ddpm supports only \"fixed_small\"")]
    [InlineData("""{ "use_karras_sigmas": true }""", "flow-euler", "key 'use_karras_sigmas' is true; scheduler flow-euler supports only false")]
    [InlineData("""{ "interpolation_type": "log_linear" }""", "euler", "key 'interpolation_type' is \"log_linear\"; scheduler euler supports only \"linear\"")]
    [InlineData("""{ "sigma_min": 0.1 }""", "euler", "key 'sigma_min' is 0.1; scheduler euler supports only null")]
    [InlineData("""{ "use_exponential_sigmas": true }""", "lms", "key 'use_exponential_sigmas' is true; scheduler lms supports only false")]
    [InlineData("""{ "use_exponential_sigmas": true }""", "dpm++2m", "key 'use_exponential_sigmas' is true; scheduler dpm++2m supports only false")]
    [InlineData("""{ "algorithm_type": "dpmsolver" }""", "dpm++2m", "key 'algorithm_type' is 'dpmsolver'; scheduler dpm++2m supports: dpmsolver++, sde-dpmsolver++ (and deis, which diffusers runs as dpmsolver++)")]
    [InlineData("""{ "algorithm_type": "deis" }""", "dpm++2m", "key 'final_sigmas_type' is not set (zero) with algorithm_type 'deis'; scheduler dpm++2m supports only sigma_min with it, as diffusers does")]
    [InlineData("""{ "solver_type": "ddim" }""", "dpm++2m", "key 'solver_type' is 'ddim'; scheduler dpm++2m supports: midpoint, heun (and logrho, bh1, bh2, which diffusers runs as midpoint)")]
    [InlineData("""{ "solver_order": 4 }""", "dpm++2m", "key 'solver_order' is 4; scheduler dpm++2m supports: 1, 2, 3")]
    [InlineData("""{ "solver_order": 4 }""", "unipc", "key 'solver_order' is 4; scheduler unipc supports: 1, 2, 3")]
    [InlineData("""{ "solver_type": "heun2" }""", "unipc", "key 'solver_type' is 'heun2'; scheduler unipc supports: bh1, bh2 (and midpoint, heun, logrho, which diffusers runs as bh2)")]
    [InlineData("""{ "solver_type": "bh1" }""", "unipc", "key 'solver_type' is 'bh1' with final_sigmas_type zero, whose last step diffusers computes as NaN; scheduler unipc supports bh1 only with final_sigmas_type sigma_min (or use bh2)")]
    [InlineData("""{ "use_flow_sigmas": true }""", "unipc", "key 'use_flow_sigmas' is true; scheduler unipc supports only false")]
    [InlineData("""{ "lambda_min_clipped": -5.1 }""", "dpm++2m", "key 'lambda_min_clipped' is -5.1; scheduler dpm++2m supports only -Infinity")]
    [InlineData("""{ "trained_betas": [0.1, 0.2] }""", "ddim", "key 'trained_betas' is [0.1, 0.2]; scheduler ddim supports only null")]
    [InlineData("""{ "use_dynamic_shifting": true }""", "flow-euler", "key 'use_dynamic_shifting' is true; scheduler flow-euler supports only false")]
    [InlineData("""{ "prediction_type": "sample" }""", "euler-ancestral", "key 'prediction_type' is 'sample'; scheduler euler-ancestral supports: epsilon, v_prediction")]
    public void OptionsASchedulerWouldUseButCannotHonourAreRefused(string json, string name, string expected)
    {
        var config = SchedulerConfig.Parse(json, "cfg.json");
        var error = Assert.Throws<HierDiffInputException>(() => SchedulerFactory.Create(name, config, 10));
        Assert.Equal($"cfg.json: {expected}", error.Message);
    }

    [Theory]
    [InlineData("""{ "thresholding": true }""", "euler")]
    [InlineData("""{ "use_karras_sigmas": true }""", "ddim")]
    [InlineData("""{ "algorithm_type": "sde-dpmsolver++", "solver_order": 3 }""", "euler-ancestral")]
    [InlineData("""{ "use_dynamic_shifting": true }""", "ddpm")]
    public void OptionsAnotherSchedulerWouldUseAreIgnored(string json, string name)
    {
        var config = SchedulerConfig.Parse(json, "cfg.json");
        Assert.Equal(10, SchedulerFactory.Create(name, config, 10).NumInferenceSteps);
    }

    [Fact]
    public void UnknownSchedulerNameListsTheNames()
    {
        var error = Assert.Throws<HierDiffInputException>(() => SchedulerFactory.Create("heun", Sd15, 10));
        Assert.Equal("unknown scheduler 'heun'; supported: ddpm, ddim, euler, euler-ancestral, dpm++2m, pndm, lms, unipc, flow-euler", error.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-3)]
    [InlineData(1001)]
    public void StepCountOutsideOneToTIsRefused(int steps)
    {
        foreach (string name in SchedulerFactory.Names)
        {
            var error = Assert.Throws<HierDiffInputException>(() => SchedulerFactory.Create(name, Sd15, steps));
            Assert.Contains($"{steps} inference steps", error.Message);
        }
    }

    [Fact]
    public void ScheduleThatLeavesTheTrainedRangeIsRefused()
    {
        // Leading spacing with 1000 steps and steps_offset 1 reaches timestep 1000 of a 0..999 schedule.
        var error = Assert.Throws<HierDiffInputException>(() => SchedulerFactory.Create(SchedulerFactory.Ddim, Sd15, 1000));
        Assert.Contains("timestep 1000, outside 0..999", error.Message);
    }

    [Fact]
    public void ScheduleWithRepeatedTimestepsIsRefused()
    {
        // DPM-Solver spaces K + 1 points over 0..T-1; with K = T some round to the same timestep.
        var error = Assert.Throws<HierDiffInputException>(
            () => SchedulerFactory.Create(SchedulerFactory.DpmSolverMultistep, new SchedulerConfig(), 1000));
        Assert.Contains("repeat timestep", error.Message);
    }

    [Fact]
    public void FingerprintCoversNameStepsAndEveryValue()
    {
        string Fingerprint(string name, SchedulerConfig config, int steps) => SchedulerFactory.Create(name, config, steps).Fingerprint;
        var config = Sd15;
        string reference = Fingerprint("ddim", config, 10);
        Assert.Equal(reference, Fingerprint("ddim", Sd15, 10));
        Assert.NotEqual(reference, Fingerprint("ddpm", config, 10));
        Assert.NotEqual(reference, Fingerprint("ddim", config, 11));
        Assert.NotEqual(reference, Fingerprint("ddim", config with { BetaEnd = 0.0120001 }, 10));
        Assert.NotEqual(reference, Fingerprint("ddim", config with { SetAlphaToOne = true }, 10));
        Assert.NotEqual(reference, Fingerprint("ddim", config with { ClipSampleRange = 2 }, 10));
        Assert.NotEqual(reference, Fingerprint("ddim", config with { PredictionType = PredictionType.VPrediction }, 10));
        Assert.NotEqual(reference, Fingerprint("ddim", config with { StepsOffset = 0 }, 10));

        // Defaults are filled in first: leaving a value to the default equals writing it.
        Assert.Equal(reference, Fingerprint("ddim", config with { TimestepSpacing = TimestepSpacing.Leading }, 10));
    }

    private static string WriteTemp(string json)
    {
        string directory = Path.Combine(Path.GetTempPath(), "hierdiff-scheduler-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        string path = Path.Combine(directory, "scheduler_config.json");
        File.WriteAllText(path, json);
        return path;
    }
}
