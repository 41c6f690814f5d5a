using HierDiff.Core.Runs;
using HierDiff.Core.Schedulers;
using static HierDiff.Core.Tests.Schedulers.SchedulerTestKit;

namespace HierDiff.Core.Tests.Schedulers;

/// <summary>How the options added with PNDM, LMS and UniPC are read: where they count, where they are ignored, and
/// that writing a default changes nothing (SchedulerReferenceTests checks the numbers they give).</summary>
public class SchedulerOptionTests
{
    private static string Fingerprint(string name, string json, int steps = 10) =>
        SchedulerFactory.Create(name, SchedulerConfig.Parse(json, "cfg.json"), steps).Fingerprint;

    [Theory]
    [InlineData(SchedulerFactory.DpmSolverMultistep, """
        { "algorithm_type": "dpmsolver++", "solver_order": 2, "solver_type": "midpoint", "lower_order_final": true,
          "euler_at_final": false, "use_karras_sigmas": false, "final_sigmas_type": "zero",
          "rescale_betas_zero_snr": false, "lambda_min_clipped": -Infinity, "variance_type": null, "thresholding": false }
        """)]
    [InlineData(SchedulerFactory.UniPc, """
        { "solver_order": 2, "solver_type": "bh2", "predict_x0": true, "lower_order_final": true, "disable_corrector": [],
          "use_karras_sigmas": false, "final_sigmas_type": "zero", "rescale_betas_zero_snr": false, "solver_p": null }
        """)]
    [InlineData(SchedulerFactory.UniPc, """{ "solver_type": "midpoint" }""")]
    [InlineData(SchedulerFactory.Euler, """{ "use_karras_sigmas": false, "final_sigmas_type": "zero", "rescale_betas_zero_snr": false }""")]
    [InlineData(SchedulerFactory.Lms, """{ "use_karras_sigmas": false }""")]
    [InlineData(SchedulerFactory.Ddim, """{ "rescale_betas_zero_snr": false }""")]
    public void WritingTheDefaultsEqualsLeavingThemOut(string name, string json)
    {
        // diffusers writes every default into the configs it saves; they must not change the run or its fingerprint,
        // which stays the one earlier builds wrote for such configs.
        Assert.Equal(Fingerprint(name, "{}"), Fingerprint(name, json));
        Assert.DoesNotContain("solver", Fingerprint(name, json));
    }

    [Fact]
    public void DeisAndUniPcSolverTypesRunAsDiffusersReadsThem()
    {
        // DPMSolverMultistepScheduler's constructor reads deis as dpmsolver++ and bh1/bh2/logrho as midpoint.
        string sigmaMin = """{ "final_sigmas_type": "sigma_min" }""";
        Assert.Equal(
            Fingerprint(SchedulerFactory.DpmSolverMultistep, sigmaMin),
            Fingerprint(SchedulerFactory.DpmSolverMultistep, """{ "final_sigmas_type": "sigma_min", "algorithm_type": "deis", "solver_type": "bh1" }"""));
    }

    [Theory]
    [InlineData(SchedulerFactory.Pndm, """{ "skip_prk_steps": true, "rescale_betas_zero_snr": true }""", """{ "skip_prk_steps": true }""")]
    [InlineData(SchedulerFactory.Lms, """{ "rescale_betas_zero_snr": true, "final_sigmas_type": "sigma_min" }""", "{}")]
    [InlineData(SchedulerFactory.EulerAncestral, """{ "use_karras_sigmas": true, "final_sigmas_type": "sigma_min" }""", "{}")]
    [InlineData(SchedulerFactory.Ddpm, """{ "use_karras_sigmas": true, "solver_order": 3 }""", "{}")]
    public void OptionsTheDiffusersClassDoesNotTakeAreIgnored(string name, string json, string same)
    {
        var with = SchedulerFactory.Create(name, SchedulerConfig.Parse(json, "cfg.json"), 10);
        var without = SchedulerFactory.Create(name, SchedulerConfig.Parse(same, "cfg.json"), 10);
        Assert.Equal(without.Fingerprint, with.Fingerprint);
        Assert.Equal(without.Timesteps, with.Timesteps);
        Assert.Equal(Generate(without, new(1, 0), Condition(0)), Generate(with, new(1, 0), Condition(0)));
    }

    [Fact]
    public void NewOptionsJoinOnlyTheFingerprintsOfSchedulersThatTakeThem()
    {
        string sdxlKarras = """{ "use_karras_sigmas": true, "timestep_spacing": "leading", "steps_offset": 1 }""";
        Assert.Contains(";use_karras_sigmas=True", Fingerprint(SchedulerFactory.Euler, sdxlKarras));
        Assert.DoesNotContain("use_karras_sigmas", Fingerprint(SchedulerFactory.Ddim, sdxlKarras));
        Assert.NotEqual(
            Fingerprint(SchedulerFactory.DpmSolverMultistep, "{}"),
            Fingerprint(SchedulerFactory.DpmSolverMultistep, """{ "algorithm_type": "sde-dpmsolver++" }"""));
        Assert.NotEqual(
            Fingerprint(SchedulerFactory.UniPc, """{ "disable_corrector": [1] }"""),
            Fingerprint(SchedulerFactory.UniPc, """{ "disable_corrector": [2] }"""));
    }

    [Fact]
    public void ZeroTerminalSnrEndsAtAlphaBarZeroOrTwoToTheMinus24()
    {
        var config = Sd15 with { RescaleBetasZeroSnr = true };
        double[] alphas = config.ComputeAlphasCumprod();
        Assert.Equal(0, alphas[^1], 12);
        Assert.Equal(Sd15.ComputeAlphasCumprod()[0], alphas[0], 12);

        // The sigma schedulers keep the first sigma finite, as diffusers does: sqrt((1 - 2^-24) / 2^-24), about 4096.
        var euler = (SigmaScheduler)SchedulerFactory.Create(SchedulerFactory.Euler, config with { TimestepSpacing = TimestepSpacing.Trailing }, 10);
        Assert.Equal(Math.Sqrt((1 - Math.Pow(2, -24)) / Math.Pow(2, -24)), euler.Sigmas[0], 9);
    }

    [Fact]
    public void KarrasSigmasRunBetweenTheSchedulesOwnExtremes()
    {
        var plain = (SigmaScheduler)SchedulerFactory.Create(SchedulerFactory.Euler, Sd15, 20);
        var karras = (SigmaScheduler)SchedulerFactory.Create(SchedulerFactory.Euler, Sd15 with { UseKarrasSigmas = true }, 20);
        Assert.Equal(plain.Sigmas[0], karras.Sigmas[0], 9);
        Assert.Equal(plain.Sigmas[19], karras.Sigmas[19], 9);
        Assert.Equal(0, karras.Sigmas[20]);

        // Evenly spaced in sigma^(1/7); the timesteps are where the training sigmas take those values.
        double Root(double s) => Math.Pow(s, 1 / 7.0);
        Assert.Equal(Root(karras.Sigmas[1]) - Root(karras.Sigmas[0]), Root(karras.Sigmas[11]) - Root(karras.Sigmas[10]), 9);
        Assert.True(karras.Timesteps.Zip(karras.Timesteps.Skip(1)).All(p => p.First > p.Second));
        Assert.NotEqual(plain.Timesteps, karras.Timesteps);
    }

    [Fact]
    public void FinalSigmaMinEndsOnTheSmallestTrainingSigma()
    {
        double sigmaMin = Math.Sqrt((1 - Sd15.ComputeAlphasCumprod()[0]) / Sd15.ComputeAlphasCumprod()[0]);
        var euler = (SigmaScheduler)SchedulerFactory.Create(SchedulerFactory.Euler, Sd15 with { FinalSigmasType = FinalSigmasType.SigmaMin }, 10);
        var dpm = (DpmSolverMultistepScheduler)SchedulerFactory.Create(
            SchedulerFactory.DpmSolverMultistep, Sd15 with { FinalSigmasType = FinalSigmasType.SigmaMin }, 10);
        Assert.Equal(sigmaMin, euler.Sigmas[^1], 12);
        Assert.Equal(sigmaMin, dpm.Sigmas[^1], 12);
    }

    [Fact]
    public void TheCosineScheduleIgnoresBetaStartAndEnd()
    {
        var cosine = new SchedulerConfig { BetaSchedule = BetaSchedule.SquaredCosCapV2 };
        double[] alphas = cosine.ComputeAlphasCumprod();
        Assert.Equal(alphas, (cosine with { BetaStart = 0.00085, BetaEnd = 0.012 }).ComputeAlphasCumprod());

        // alpha_bar(t) = cos((t + 0.008) / 1.008 * pi / 2)^2: the first beta is 1 - alpha_bar(1/T) / alpha_bar(0).
        double Bar(double t) => Math.Pow(Math.Cos((t + 0.008) / 1.008 * Math.PI / 2), 2);
        Assert.Equal(Bar(0.001) / Bar(0), alphas[0], 14);
        // alpha_bar(1) is 0: the last beta is capped at 0.999.
        Assert.Equal(0.999, 1 - (alphas[^1] / alphas[^2]), 12);
    }

    [Theory]
    [InlineData("sd15_scheduler_config.json", SchedulerFactory.Pndm, 51)]
    [InlineData("sd21_scheduler_config.json", SchedulerFactory.Ddim, 50)]
    [InlineData("sdxl_scheduler_config.json", SchedulerFactory.Euler, 50)]
    public void StableDiffusionExportsRunTheirOwnScheduler(string file, string expected, int calls)
    {
        var config = SchedulerConfig.Load(TestPaths.Data("schedulers", file));
        Assert.Equal(
            new SchedulerChoice(expected, SchedulerFrom.Model, calls),
            RunResolution.Scheduler(new GenerationOptions { Steps = 50 }, config));
    }
}
