using static HierDiff.Core.Tests.Schedulers.SchedulerTestKit;

namespace HierDiff.Core.Tests.Schedulers;

/// <summary>Timesteps, alphas and sigmas must be the ones diffusers computes for the same config.</summary>
public class ScheduleTests
{
    [Fact]
    public void Sd15AlphasCumprodMatchDiffusers()
    {
        double[] alphas = Sd15.ComputeAlphasCumprod();
        Assert.Equal(1000, alphas.Length);
        Assert.Equal(0.99915, alphas[0], 0.000005);
        Assert.Equal(0.277670, alphas[499], 0.0000005);
        Assert.Equal(0.0046601, alphas[999], 0.00000005);
    }

    [Fact]
    public void LinearAlphasCumprodIsTheProductOfOneMinusBeta()
    {
        double[] alphas = new SchedulerConfig { NumTrainTimesteps = 3, BetaStart = 0.1, BetaEnd = 0.3 }.ComputeAlphasCumprod();
        Assert.Equal(0.9, alphas[0], 1e-15);
        Assert.Equal(0.9 * 0.8, alphas[1], 1e-15);
        Assert.Equal(0.9 * 0.8 * 0.7, alphas[2], 1e-15);
    }

    [Fact]
    public void DdimLeadingFiftyStepsWithOffsetOne()
    {
        var scheduler = SchedulerFactory.Create(SchedulerFactory.Ddim, Sd15, 50);
        double[] expected = Enumerable.Range(0, 50).Select(i => 981.0 - (20 * i)).ToArray();
        Assert.Equal(expected, scheduler.Timesteps);
        Assert.Equal(1, scheduler.Timesteps[^1]);
    }

    [Theory]
    [InlineData(1000, 3, new double[] { 999, 666, 332 })]
    [InlineData(10, 4, new double[] { 9, 7, 4, 1 })] // arange 10, 7.5, 5, 2.5: halves round to even
    [InlineData(1000, 1, new double[] { 999 })]
    public void DdpmTrailingTimesteps(int trainTimesteps, int steps, double[] expected)
    {
        var config = new SchedulerConfig { NumTrainTimesteps = trainTimesteps, TimestepSpacing = TimestepSpacing.Trailing };
        Assert.Equal(expected, SchedulerFactory.Create(SchedulerFactory.Ddpm, config, steps).Timesteps);
    }

    [Theory]
    [InlineData(1000, 4, new double[] { 999, 666, 333, 0 })]
    [InlineData(10, 5, new double[] { 9, 7, 4, 2, 0 })] // linspace 0, 2.25, 4.5, 6.75, 9: 4.5 rounds to 4
    [InlineData(1000, 3, new double[] { 999, 500, 0 })]
    [InlineData(1000, 1, new double[] { 0 })]
    public void DdpmLinspaceTimesteps(int trainTimesteps, int steps, double[] expected)
    {
        var config = new SchedulerConfig { NumTrainTimesteps = trainTimesteps, TimestepSpacing = TimestepSpacing.Linspace };
        Assert.Equal(expected, SchedulerFactory.Create(SchedulerFactory.Ddpm, config, steps).Timesteps);
    }

    [Fact]
    public void TrailingKeepsKTimestepsWhereNumPyArangeWouldGiveOneMore()
    {
        // np.arange(1000, 0, -1000 / 61) has 62 elements (the last about 1e-13); the spacing means 61.
        var config = new SchedulerConfig { TimestepSpacing = TimestepSpacing.Trailing };
        var scheduler = SchedulerFactory.Create(SchedulerFactory.Ddpm, config, 61);
        Assert.Equal(61, scheduler.Timesteps.Count);
        Assert.Equal(999, scheduler.Timesteps[0]);
        Assert.Equal(15, scheduler.Timesteps[^1]);
    }

    [Fact]
    public void DpmSolverLinspaceTenSteps()
    {
        // linspace(0, 999, 11) = 0, 99.9, ..., 499.5, ..., 999; rounded, reversed, last dropped.
        var scheduler = SchedulerFactory.Create(SchedulerFactory.DpmSolverMultistep, new SchedulerConfig(), 10);
        Assert.Equal(new double[] { 999, 899, 799, 699, 599, 500, 400, 300, 200, 100 }, scheduler.Timesteps);
    }

    [Fact]
    public void DpmSolverLeadingUsesKPlusOnePoints()
    {
        // (arange(11) * (1000 // 11))[::-1][:-1] + 1
        var scheduler = SchedulerFactory.Create(SchedulerFactory.DpmSolverMultistep, Sd15 with { TimestepSpacing = TimestepSpacing.Leading }, 10);
        Assert.Equal(Enumerable.Range(0, 10).Select(i => ((10.0 - i) * 90) + 1), scheduler.Timesteps);
    }

    [Fact]
    public void DpmSolverSigmasEndAtZero()
    {
        var scheduler = (DpmSolverMultistepScheduler)SchedulerFactory.Create(SchedulerFactory.DpmSolverMultistep, Sd15, 10);
        double[] alphas = Sd15.ComputeAlphasCumprod();
        Assert.Equal(11, scheduler.Sigmas.Count);
        Assert.Equal(Math.Sqrt((1 - alphas[999]) / alphas[999]), scheduler.Sigmas[0], 1e-12);
        Assert.Equal(0, scheduler.Sigmas[^1]);
        Assert.Equal(1.0, scheduler.InitNoiseSigma);
    }

    [Fact]
    public void EulerLinspaceTimestepsAreFractionalFloat32()
    {
        var scheduler = (EulerDiscreteScheduler)SchedulerFactory.Create(SchedulerFactory.Euler, Sd15, 50);
        Assert.Equal(999, scheduler.Timesteps[0]);
        Assert.Equal((double)(float)(999.0 * 48 / 49), scheduler.Timesteps[1]);
        Assert.Equal(0, scheduler.Timesteps[^1]);

        // np.interp between the training sigmas of 978 and 979.
        double[] alphas = Sd15.ComputeAlphasCumprod();
        double low = Math.Sqrt((1 - alphas[978]) / alphas[978]);
        double high = Math.Sqrt((1 - alphas[979]) / alphas[979]);
        double t = scheduler.Timesteps[1];
        Assert.Equal(low + ((high - low) * (t - 978)), scheduler.Sigmas[1], 1e-12);
        Assert.Equal(51, scheduler.Sigmas.Count);
        Assert.Equal(0, scheduler.Sigmas[^1]);
    }

    [Fact]
    public void EulerInitNoiseSigmaIsMaxSigmaForLinspaceAndTrailing()
    {
        foreach (var spacing in new[] { TimestepSpacing.Linspace, TimestepSpacing.Trailing })
        {
            foreach (string name in new[] { SchedulerFactory.Euler, SchedulerFactory.EulerAncestral })
            {
                var scheduler = SchedulerFactory.Create(name, Sd15 with { TimestepSpacing = spacing }, 30);
                double maxSigma = Sigmas(scheduler).Max();
                Assert.Equal(maxSigma, scheduler.InitNoiseSigma);
                Assert.Equal(14.6146, scheduler.InitNoiseSigma, 0.0001); // SD 1.5 at t = 999
            }
        }
    }

    [Fact]
    public void EulerInitNoiseSigmaIsSqrtOfMaxSquaredPlusOneForLeading()
    {
        foreach (string name in new[] { SchedulerFactory.Euler, SchedulerFactory.EulerAncestral })
        {
            var scheduler = SchedulerFactory.Create(name, Sd15 with { TimestepSpacing = TimestepSpacing.Leading }, 30);
            double maxSigma = Sigmas(scheduler).Max();
            Assert.Equal(Math.Sqrt((maxSigma * maxSigma) + 1), scheduler.InitNoiseSigma, 1e-12);
            Assert.Equal(958, scheduler.Timesteps[0]); // 29 * (1000 // 30) + 1
        }
    }

    [Theory]
    [InlineData(1.0, 1)]
    [InlineData(1.0, 4)]
    [InlineData(1.0, 28)]
    [InlineData(3.0, 1)]
    [InlineData(3.0, 4)]
    [InlineData(3.0, 28)]
    public void FlowSigmasMatchTheClosedForm(double shift, int steps)
    {
        var config = SchedulerConfig.Parse($$"""{ "shift": {{shift}} }""", "flow.json");
        var scheduler = (FlowMatchEulerScheduler)SchedulerFactory.Create(SchedulerFactory.FlowEuler, config, steps);

        // sigma_min = shifted(1 / T); timesteps = linspace(T, sigma_min * T, K) / T, shifted again.
        double Shifted(double s) => shift * s / (1 + ((shift - 1) * s));
        double sigmaMin = Shifted(1.0 / 1000);
        for (int i = 0; i < steps; i++)
        {
            double spaced = steps == 1 ? 1.0 : 1.0 + ((sigmaMin - 1.0) * i / (steps - 1));
            double expected = Shifted(spaced);
            Assert.Equal(expected, scheduler.Sigmas[i], 1e-12);
            Assert.Equal(expected * 1000, scheduler.Timesteps[i], 1e-9);
        }

        Assert.Equal(1.0, scheduler.Sigmas[0], 1e-15);
        Assert.Equal(0, scheduler.Sigmas[steps]);
        Assert.Equal(1.0, scheduler.InitNoiseSigma);
    }

    [Fact]
    public void FlowShiftOneIsLinearAndShiftThreeBendsTowardsNoise()
    {
        var plain = (FlowMatchEulerScheduler)SchedulerFactory.Create(SchedulerFactory.FlowEuler, new SchedulerConfig(), 4);
        Assert.Equal(new[] { 1.0, 0.667, 0.334, 0.001, 0.0 }, plain.Sigmas.Select(s => Math.Round(s, 9)));

        var sd3 = (FlowMatchEulerScheduler)SchedulerFactory.Create(SchedulerFactory.FlowEuler, Sd3, 4);
        Assert.Equal(3.0, sd3.Config.Shift);
        Assert.True(sd3.Sigmas[1] > plain.Sigmas[1]);
        Assert.True(sd3.Sigmas[2] > plain.Sigmas[2]);
    }

    [Fact]
    public void DefaultsFollowEachDiffusersClass()
    {
        var config = new SchedulerConfig();
        Assert.Equal(TimestepSpacing.Leading, SchedulerFactory.Create(SchedulerFactory.Ddpm, config, 10).Config.TimestepSpacing);
        Assert.Equal(TimestepSpacing.Leading, SchedulerFactory.Create(SchedulerFactory.Ddim, config, 10).Config.TimestepSpacing);
        Assert.Equal(TimestepSpacing.Linspace, SchedulerFactory.Create(SchedulerFactory.Euler, config, 10).Config.TimestepSpacing);
        Assert.Equal(TimestepSpacing.Linspace, SchedulerFactory.Create(SchedulerFactory.EulerAncestral, config, 10).Config.TimestepSpacing);
        Assert.Equal(TimestepSpacing.Linspace, SchedulerFactory.Create(SchedulerFactory.DpmSolverMultistep, config, 10).Config.TimestepSpacing);
        Assert.True(SchedulerFactory.Create(SchedulerFactory.Ddpm, config, 10).Config.ClipSample);
        Assert.True(SchedulerFactory.Create(SchedulerFactory.Ddim, config, 10).Config.ClipSample);
        Assert.False(SchedulerFactory.Create(SchedulerFactory.Ddim, Sd15, 10).Config.ClipSample);
    }

    private static IReadOnlyList<double> Sigmas(DiffusionScheduler scheduler) => scheduler switch
    {
        EulerDiscreteScheduler euler => euler.Sigmas,
        EulerAncestralScheduler ancestral => ancestral.Sigmas,
        _ => throw new ArgumentException(scheduler.Name),
    };
}
