using static HierDiff.Core.Tests.Schedulers.SchedulerTestKit;

namespace HierDiff.Core.Tests.Schedulers;

/// <summary>Single steps against the closed forms of each method.</summary>
public class StepFormulaTests
{
    private const int N = 32;

    [Theory]
    [InlineData("epsilon")]
    [InlineData("v_prediction")]
    public void DdimWithTrueNoiseStepsAlongTheForwardProcessAndEndsAtX0(string prediction)
    {
        // Trailing spacing, 4 steps: 999, 749, 499, 249; the step after 249 uses alpha_cumprod 1.
        var config = Sd15 with
        {
            TimestepSpacing = TimestepSpacing.Trailing,
            SetAlphaToOne = true,
            PredictionType = Prediction(prediction),
        };
        var scheduler = SchedulerFactory.Create(SchedulerFactory.Ddim, config, 4);
        double[] alphas = config.ComputeAlphasCumprod();
        double[] x0 = Values(1, 0.9);
        double[] eps = Values(2, 1.0);
        var state = scheduler.CreateState();
        for (int i = 0; i < 4; i++)
        {
            int t = (int)scheduler.Timesteps[i];
            double a = alphas[t];
            float[] sample = Noised(x0, eps, a);
            float[] output = prediction == "epsilon"
                ? eps.Select(e => (float)e).ToArray()
                : x0.Zip(eps, (x, e) => (float)((Math.Sqrt(a) * e) - (Math.Sqrt(1 - a) * x))).ToArray();
            scheduler.Step(state, output, sample, default);

            // eta = 0: x_prev = sqrt(a_prev) x0 + sqrt(1 - a_prev) eps.
            double aPrev = i < 3 ? alphas[t - 250] : 1.0;
            for (int j = 0; j < N; j++)
            {
                Assert.Equal((Math.Sqrt(aPrev) * x0[j]) + (Math.Sqrt(1 - aPrev) * eps[j]), sample[j], 1e-5);
            }
        }
    }

    [Fact]
    public void DdpmStepIsThePosteriorMeanPlusScaledStepNoise()
    {
        var config = Sd15 with { TimestepSpacing = TimestepSpacing.Trailing };
        var scheduler = SchedulerFactory.Create(SchedulerFactory.Ddpm, config, 4);
        double[] alphas = config.ComputeAlphasCumprod();
        double[] x = Values(3, 2.0);
        double[] m = Values(4, 1.0);
        float[] sample = x.Select(v => (float)v).ToArray();
        var noise = new NoiseStream(77, 2);
        var state = scheduler.CreateState();
        scheduler.Step(state, m.Select(v => (float)v).ToArray(), sample, noise);

        double a = alphas[999];
        double aPrev = alphas[749];
        double beta = 1 - (a / aPrev);
        var z = new float[N];
        noise.Fill(z, NoiseStream.StepDraw(0));
        for (int j = 0; j < N; j++)
        {
            double x0 = (x[j] - (Math.Sqrt(1 - a) * m[j])) / Math.Sqrt(a);
            double mean = ((Math.Sqrt(aPrev) * beta / (1 - a)) * x0) + ((Math.Sqrt(1 - beta) * (1 - aPrev) / (1 - a)) * x[j]);
            double std = Math.Sqrt((1 - aPrev) / (1 - a) * beta);
            Assert.Equal(mean + (std * z[j]), sample[j], 1e-5);
        }
    }

    [Fact]
    public void DdpmLastStepAtTimestepZeroReturnsTheClippedX0WithoutNoise()
    {
        // Diffusers defaults: leading spacing (last timestep 0) and clip_sample true.
        var config = new SchedulerConfig();
        var scheduler = SchedulerFactory.Create(SchedulerFactory.Ddpm, config, 2);
        Assert.Equal(0, scheduler.Timesteps[^1]);
        double a0 = config.ComputeAlphasCumprod()[0];
        var state = scheduler.CreateState();
        float[] sample = Values(5, 1.0).Select(v => (float)v).ToArray();
        scheduler.Step(state, new float[N], sample, new NoiseStream(1, 0));

        double[] x = Values(6, 3.0);
        float[] current = x.Select(v => (float)v).ToArray();
        double[] m = Values(7, 1.0);
        scheduler.Step(state, m.Select(v => (float)v).ToArray(), current, new NoiseStream(1, 0));
        for (int j = 0; j < N; j++)
        {
            double x0 = Math.Clamp((x[j] - (Math.Sqrt(1 - a0) * m[j])) / Math.Sqrt(a0), -1, 1);
            Assert.Equal((float)x0, current[j]);
        }
    }

    [Theory]
    [InlineData(TimestepSpacing.Linspace)]
    [InlineData(TimestepSpacing.Leading)]
    public void EulerEpsilonStepIsSamplePlusSigmaDifferenceTimesNoise(TimestepSpacing spacing)
    {
        var scheduler = (EulerDiscreteScheduler)SchedulerFactory.Create(SchedulerFactory.Euler, Sd15 with { TimestepSpacing = spacing }, 10);
        var state = scheduler.CreateState();
        for (int i = 0; i < 10; i++)
        {
            double[] x = Values(10 + i, 5.0);
            double[] eps = Values(30 + i, 1.0);
            float[] sample = x.Select(v => (float)v).ToArray();
            scheduler.Step(state, eps.Select(v => (float)v).ToArray(), sample, default);
            double dt = scheduler.Sigmas[i + 1] - scheduler.Sigmas[i];
            for (int j = 0; j < N; j++)
            {
                Assert.Equal(x[j] + (dt * eps[j]), sample[j], 1e-5);
            }
        }
    }

    [Fact]
    public void EulerScalesTheModelInputBySqrtOfSigmaSquaredPlusOne()
    {
        var scheduler = (EulerDiscreteScheduler)SchedulerFactory.Create(SchedulerFactory.Euler, Sd15, 10);
        float[] sample = Values(8, 10.0).Select(v => (float)v).ToArray();
        var scaled = new float[N];
        scheduler.ScaleModelInput(sample, scaled, 3);
        double sigma = scheduler.Sigmas[3];
        for (int j = 0; j < N; j++)
        {
            Assert.Equal((float)(sample[j] / Math.Sqrt((sigma * sigma) + 1)), scaled[j]);
        }

        var copy = new float[N];
        SchedulerFactory.Create(SchedulerFactory.Ddim, Sd15, 10).ScaleModelInput(sample, copy, 3);
        Assert.Equal(sample, copy);
    }

    [Fact]
    public void EulerAncestralStepsToSigmaDownAndAddsSigmaUpNoise()
    {
        var scheduler = (EulerAncestralScheduler)SchedulerFactory.Create(SchedulerFactory.EulerAncestral, Sd15, 5);
        var state = scheduler.CreateState();
        var noise = new NoiseStream(5, 3);
        for (int i = 0; i < 5; i++)
        {
            double[] x = Values(50 + i, 5.0);
            double[] eps = Values(60 + i, 1.0);
            float[] sample = x.Select(v => (float)v).ToArray();
            scheduler.Step(state, eps.Select(v => (float)v).ToArray(), sample, noise);

            double from = scheduler.Sigmas[i];
            double to = scheduler.Sigmas[i + 1];
            double up = Math.Sqrt(to * to * ((from * from) - (to * to)) / (from * from));
            double down = Math.Sqrt((to * to) - (up * up));
            var z = new float[N];
            noise.Fill(z, NoiseStream.StepDraw(i));
            for (int j = 0; j < N; j++)
            {
                Assert.Equal(x[j] + ((down - from) * eps[j]) + (up * z[j]), sample[j], 1e-5);
            }
        }
    }

    [Fact]
    public void FlowStepIsSamplePlusSigmaDifferenceTimesVelocity()
    {
        var scheduler = (FlowMatchEulerScheduler)SchedulerFactory.Create(SchedulerFactory.FlowEuler, Sd3, 8);
        var state = scheduler.CreateState();
        for (int i = 0; i < 8; i++)
        {
            float[] sample = Values(70 + i, 2.0).Select(v => (float)v).ToArray();
            float[] before = (float[])sample.Clone();
            float[] velocity = Values(80 + i, 1.0).Select(v => (float)v).ToArray();
            scheduler.Step(state, velocity, sample, default);
            double dt = scheduler.Sigmas[i + 1] - scheduler.Sigmas[i];
            Assert.Equal(before.Zip(velocity, (x, v) => (float)(x + (dt * v))), sample);
        }
    }

    [Theory]
    [InlineData("epsilon")]
    [InlineData("v_prediction")]
    public void DpmSolverFirstStepIsFirstOrderAndSecondStepUsesTheHistory(string prediction)
    {
        var config = Sd15 with { PredictionType = Prediction(prediction) };
        var scheduler = (DpmSolverMultistepScheduler)SchedulerFactory.Create(SchedulerFactory.DpmSolverMultistep, config, 10);
        var state = scheduler.CreateState();

        double[] x = Values(90, 10.0);
        double[] m = Values(91, 1.0);
        float[] sample = x.Select(v => (float)v).ToArray();
        scheduler.Step(state, m.Select(v => (float)v).ToArray(), sample, default);
        double[] x0First = X0(prediction, x, m, scheduler.Sigmas[0]);

        // First order DPM-Solver++ (= DDIM): x_t = (sigma_t / sigma_s) x - alpha_t (exp(-h) - 1) x0,
        // with exp(-h) = sigma_next / sigma in the sigma parameterisation.
        double s = scheduler.Sigmas[0];
        double t = scheduler.Sigmas[1];
        double alphaS = 1 / Math.Sqrt((s * s) + 1);
        double alphaT = 1 / Math.Sqrt((t * t) + 1);
        for (int j = 0; j < N; j++)
        {
            double expected = (t * alphaT / (s * alphaS) * x[j]) - (alphaT * ((t / s) - 1) * x0First[j]);
            Assert.Equal(expected, sample[j], 1e-5);
        }

        Assert.Single(state.Arrays);
        Assert.Equal(1, DpmSolverMultistepScheduler.LowerOrderNums(state));

        // Second step: midpoint second order with D1 = (m0 - m1) / r0, r0 = h_prev / h.
        double[] x2 = sample.Select(v => (double)v).ToArray();
        double[] m2 = Values(92, 1.0);
        scheduler.Step(state, m2.Select(v => (float)v).ToArray(), sample, default);
        double[] x0Second = X0(prediction, x2, m2, scheduler.Sigmas[1]);
        double u = scheduler.Sigmas[2];
        double alphaU = 1 / Math.Sqrt((u * u) + 1);
        double Lambda(double sigma) => -Math.Log(sigma);
        double h = Lambda(u) - Lambda(t);
        double r0 = (Lambda(t) - Lambda(s)) / h;
        double first = 0;
        for (int j = 0; j < N; j++)
        {
            double d1 = ((float)x0Second[j] - (float)x0First[j]) / r0;
            double coefficient = alphaU * ((u / t) - 1);
            double expected = (u * alphaU / (t * alphaT) * x2[j]) - (coefficient * x0Second[j]) - (0.5 * coefficient * d1);
            Assert.Equal(expected, sample[j], 1e-5);
            first = Math.Max(first, Math.Abs(((u * alphaU / (t * alphaT) * x2[j]) - (coefficient * x0Second[j])) - sample[j]));
        }

        Assert.True(first > 1e-4, "the second step must differ from a first-order step");
        Assert.Equal(2, DpmSolverMultistepScheduler.LowerOrderNums(state));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(5)]
    public void DpmSolverLastStepToSigmaZeroReturnsTheX0Prediction(int steps)
    {
        var scheduler = (DpmSolverMultistepScheduler)SchedulerFactory.Create(SchedulerFactory.DpmSolverMultistep, Sd15, steps);
        var state = scheduler.CreateState();
        float[] sample = Values(93, 3.0).Select(v => (float)v).ToArray();
        for (int i = 0; i < steps - 1; i++)
        {
            scheduler.Step(state, Values(94 + i, 1.0).Select(v => (float)v).ToArray(), sample, default);
        }

        double[] x = sample.Select(v => (double)v).ToArray();
        double[] m = Values(99, 1.0);
        scheduler.Step(state, m.Select(v => (float)v).ToArray(), sample, default);
        double[] x0 = X0("epsilon", x, m, scheduler.Sigmas[steps - 1]);
        Assert.Equal(0, scheduler.Sigmas[steps]);
        Assert.Equal(x0.Select(v => (float)v), sample);
    }

    /// <summary>Deterministic values in [-scale, scale], exactly representable as float (the latent's type).</summary>
    private static double[] Values(int seed, double scale) =>
        Enumerable.Range(0, N).Select(j => (double)(float)(scale * Math.Sin((seed * 12.9898) + (j * 78.233)))).ToArray();

    private static float[] Noised(double[] x0, double[] eps, double alphaCumprod) =>
        x0.Zip(eps, (x, e) => (float)((Math.Sqrt(alphaCumprod) * x) + (Math.Sqrt(1 - alphaCumprod) * e))).ToArray();

    /// <summary>The data prediction from sigma (alpha_t = 1 / sqrt(sigma^2 + 1), sigma_t = sigma alpha_t).</summary>
    private static double[] X0(string prediction, double[] x, double[] m, double sigma)
    {
        double alpha = 1 / Math.Sqrt((sigma * sigma) + 1);
        double sigmaT = sigma * alpha;
        return prediction == "epsilon"
            ? x.Zip(m, (a, b) => (a - (sigmaT * b)) / alpha).ToArray()
            : x.Zip(m, (a, b) => (alpha * a) - (sigmaT * b)).ToArray();
    }
}
