using static HierDiff.Core.Tests.Schedulers.SchedulerTestKit;

namespace HierDiff.Core.Tests.Schedulers;

/// <summary>
/// A trajectory stopped after any step, serialised, and finished by a new scheduler instance on another worker
/// must end bit-identical to a straight run.
/// </summary>
public class HandOffTests
{
    public static TheoryData<string, string, string, int> Cases()
    {
        var data = new TheoryData<string, string, string, int>();
        // sd15 gives PNDM its PLMS start (skip_prk_steps true), linear-trailing its Runge-Kutta start.
        string[] diffusion = [SchedulerFactory.Ddpm, SchedulerFactory.Ddim, SchedulerFactory.Euler,
            SchedulerFactory.EulerAncestral, SchedulerFactory.DpmSolverMultistep, SchedulerFactory.Pndm];
        foreach (string name in diffusion)
        {
            foreach (string config in new[] { "sd15", "linear-trailing" })
            {
                foreach (string prediction in new[] { "epsilon", "v_prediction" })
                {
                    data.Add(name, config, prediction, 6);
                    data.Add(name, config, prediction, 12);
                }
            }
        }

        data.Add(SchedulerFactory.FlowEuler, "sd3", "epsilon", 6);
        data.Add(SchedulerFactory.FlowEuler, "sd3", "epsilon", 12);

        // Every option added with PNDM, LMS and UniPC, on the schedulers that take it (zero SNR with v_prediction,
        // the parameterisation it is meant for).
        (string Name, string Config, string Prediction)[] options =
        [
            (SchedulerFactory.Lms, "sd15", "epsilon"), (SchedulerFactory.Lms, "linear-trailing", "v_prediction"),
            (SchedulerFactory.Lms, "karras", "epsilon"), (SchedulerFactory.Lms, "cosine", "epsilon"),
            (SchedulerFactory.Euler, "karras", "epsilon"), (SchedulerFactory.Euler, "zero-snr", "v_prediction"),
            (SchedulerFactory.Euler, "final-sigma-min", "epsilon"), (SchedulerFactory.Euler, "cosine", "epsilon"),
            (SchedulerFactory.EulerAncestral, "zero-snr", "v_prediction"),
            (SchedulerFactory.Ddpm, "zero-snr", "v_prediction"), (SchedulerFactory.Ddpm, "cosine", "epsilon"),
            (SchedulerFactory.Ddim, "zero-snr", "v_prediction"), (SchedulerFactory.Ddim, "cosine", "epsilon"),
            (SchedulerFactory.Pndm, "cosine", "epsilon"),
            (SchedulerFactory.DpmSolverMultistep, "order-1", "epsilon"), (SchedulerFactory.DpmSolverMultistep, "order-3", "v_prediction"),
            (SchedulerFactory.DpmSolverMultistep, "sde", "epsilon"), (SchedulerFactory.DpmSolverMultistep, "sde-order-3-karras", "epsilon"),
            (SchedulerFactory.DpmSolverMultistep, "heun", "epsilon"), (SchedulerFactory.DpmSolverMultistep, "karras", "epsilon"),
            (SchedulerFactory.DpmSolverMultistep, "final-sigma-min", "epsilon"), (SchedulerFactory.DpmSolverMultistep, "zero-snr", "v_prediction"),
            (SchedulerFactory.DpmSolverMultistep, "cosine", "epsilon"),
            (SchedulerFactory.UniPc, "sd15", "epsilon"), (SchedulerFactory.UniPc, "linear-trailing", "v_prediction"),
            (SchedulerFactory.UniPc, "order-1", "epsilon"), (SchedulerFactory.UniPc, "order-3", "epsilon"),
            (SchedulerFactory.UniPc, "bh1-final-sigma-min", "epsilon"), (SchedulerFactory.UniPc, "noise-prediction", "v_prediction"),
            (SchedulerFactory.UniPc, "disable-corrector", "epsilon"), (SchedulerFactory.UniPc, "karras", "epsilon"),
            (SchedulerFactory.UniPc, "final-sigma-min", "epsilon"), (SchedulerFactory.UniPc, "zero-snr", "v_prediction"),
            (SchedulerFactory.UniPc, "cosine", "epsilon"),
        ];
        foreach (var (name, config, prediction) in options)
        {
            data.Add(name, config, prediction, 6);
            data.Add(name, config, prediction, 16);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ResumeAfterEveryStepIsBitIdentical(string name, string configName, string prediction, int steps)
    {
        var config = Named(configName) with { PredictionType = Prediction(prediction) };
        var noise = new NoiseStream(Seed: 1234, Stream: 5);
        float[] condition = Condition(5);
        float[] straight = Generate(SchedulerFactory.Create(name, config, steps), noise, condition);
        Assert.All(straight, v => Assert.True(float.IsFinite(v)));

        // Every split of the denoiser calls (more than the steps for PNDM).
        int calls = SchedulerFactory.Create(name, config, steps).StepCount;
        for (int split = 0; split <= calls; split++)
        {
            // Worker A: initial latent and the first `split` steps, then hand off as bytes.
            var first = SchedulerFactory.Create(name, config, steps);
            var latent = new float[LatentLength];
            first.InitializeLatent(latent, noise);
            var state = first.CreateState();
            Run(first, state, latent, noise, condition, split);
            byte[] bytes = new Trajectory(latent, state).ToBytes();

            // Worker B: a new scheduler from the same settings, fed only the bytes.
            var second = SchedulerFactory.Create(name, Named(configName) with { PredictionType = Prediction(prediction) }, steps);
            var resumed = Trajectory.FromBytes(bytes);
            Assert.Equal(split, resumed.State.StepIndex);
            Run(second, resumed.State, resumed.Latent, noise, condition, calls - split);

            Assert.Equal(calls, resumed.State.StepIndex);
            Assert.True(Bits(straight).SequenceEqual(Bits(resumed.Latent)), $"split after {split} of {calls} steps differs");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ClonedStateContinuesLikeTheOriginal(string name, string configName, string prediction, int steps)
    {
        var config = Named(configName) with { PredictionType = Prediction(prediction) };
        var scheduler = SchedulerFactory.Create(name, config, steps);
        var noise = new NoiseStream(99, 0);
        float[] condition = Condition(0);
        var latent = new float[LatentLength];
        scheduler.InitializeLatent(latent, noise);
        var state = scheduler.CreateState();
        int calls = scheduler.StepCount;
        Run(scheduler, state, latent, noise, condition, calls / 2);

        var clone = state.Clone();
        float[] cloneLatent = (float[])latent.Clone();
        Run(scheduler, state, latent, noise, condition, calls - (calls / 2));
        Run(scheduler, clone, cloneLatent, noise, condition, calls - (calls / 2));
        Assert.Equal(Bits(latent), Bits(cloneLatent));
    }

    [Theory]
    [InlineData(SchedulerFactory.Ddpm, "sd15")]
    [InlineData(SchedulerFactory.EulerAncestral, "sd15")]
    [InlineData(SchedulerFactory.DpmSolverMultistep, "sde")]
    public void StochasticSchedulersUseTheNoiseStream(string name, string config)
    {
        // Same initial latent, different step noise: the draws used by steps must come from the stream.
        (float[] a, float[] b) = RunsWithOtherStepNoise(name, config);
        Assert.NotEqual(Bits(a), Bits(b));
    }

    [Theory]
    [InlineData(SchedulerFactory.Ddim)]
    [InlineData(SchedulerFactory.Euler)]
    [InlineData(SchedulerFactory.DpmSolverMultistep)]
    [InlineData(SchedulerFactory.Pndm)]
    [InlineData(SchedulerFactory.Lms)]
    [InlineData(SchedulerFactory.UniPc)]
    [InlineData(SchedulerFactory.FlowEuler)]
    public void DeterministicSchedulersIgnoreStepNoise(string name)
    {
        (float[] a, float[] b) = RunsWithOtherStepNoise(name);
        Assert.Equal(Bits(a), Bits(b));
    }

    /// <summary>Two 10-step runs of the named scheduler (on the named config) from the same initial latent (noise stream 0), one stepped
    /// with the noise of stream 0, the other with that of stream 1.</summary>
    private static (float[] Stream0, float[] Stream1) RunsWithOtherStepNoise(string name, string config = "sd15")
    {
        var scheduler = SchedulerFactory.Create(name, Named(config), 10);
        float[] condition = Condition(1);
        var a = new float[LatentLength];
        var b = new float[LatentLength];
        scheduler.InitializeLatent(a, new NoiseStream(1, 0));
        scheduler.InitializeLatent(b, new NoiseStream(1, 0));
        Run(scheduler, scheduler.CreateState(), a, new NoiseStream(1, 0), condition, scheduler.StepCount);
        Run(scheduler, scheduler.CreateState(), b, new NoiseStream(1, 1), condition, scheduler.StepCount);
        return (a, b);
    }
}
