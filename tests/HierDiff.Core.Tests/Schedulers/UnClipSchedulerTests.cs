using HierDiff.Core.Noise;
using HierDiff.Core.Schedulers;

namespace HierDiff.Core.Tests.Schedulers;

/// <summary>Kandinsky 2.2's prior scheduler against diffusers' own UnCLIPScheduler: numbers from
/// tools/make-unclip-reference.py (diffusers' source on torch 1.13), with the variance noise fixed at sin(1.1 j).</summary>
public sealed class UnClipSchedulerTests
{
    private const int Width = 8;

    private static readonly int[] Timesteps25 =
        [999, 957, 916, 874, 832, 791, 749, 708, 666, 624, 583, 541, 500, 458, 416, 375, 333, 291, 250, 208, 166, 125, 83, 42, 0];

    /// <summary>Step index to diffusers' prev_sample, kandinsky-2-2-prior's config (prediction_type sample, clip 10).</summary>
    public static TheoryData<int, float[]> KandinskyPrior => new()
    {
        { 0, new float[] { 0.654081702f, 1.49007607f, 0.94103986f, -0.55245626f, -1.60221267f, -1.3565774f, -0.0724334121f, 1.13377225f } },
        { 1, new float[] { 0.962358713f, 1.94259536f, 1.45431328f, 0.0664239973f, -0.843944669f, -0.56762594f, 0.676046729f, 1.92634869f } },
        { 12, new float[] { 1.72320485f, 2.35020328f, 1.53432119f, 0.188257068f, -0.501150608f, -0.31535542f, 0.68031317f, 2.11480784f } },
        { 24, new float[] { 9.99472332f, 9.17326355f, 2.0385294f, -6.05495644f, -9.99472332f, -9.99472332f, -5.88002586f, 2.23696733f } },
    };

    /// <summary>The same with prediction_type epsilon and clip_sample_range 1.</summary>
    public static TheoryData<int, float[]> Epsilon => new()
    {
        { 0, new float[] { -0.0654081702f, 0.824344814f, 0.742224813f, -0.0907953307f, -0.882722855f, -0.637087464f, 0.377779543f, 0.921970844f } },
        { 1, new float[] { -0.0962358713f, 0.96309638f, 1.16179419f, 0.745671511f, 0.214649916f, 0.490968585f, 1.33845067f, 1.61472273f } },
        { 12, new float[] { -0.172320485f, 0.59630692f, 1.10327649f, 1.40452147f, 1.39437473f, 1.58016992f, 1.86641741f, 1.76146126f } },
        { 24, new float[] { -0.0770846158f, 0.531783283f, 0.99947232f, 0.99947232f, 0.99947232f, 0.99947232f, 0.99947232f, 0.99947232f } },
    };

    [Fact]
    public void TimestepsFollowKarlosSpacingRoundedHalfToEven()
    {
        var scheduler = new UnClipScheduler(new UnClipConfig(), 25);
        Assert.Equal(Timesteps25, scheduler.Timesteps);
    }

    [Theory]
    [MemberData(nameof(KandinskyPrior))]
    public void AStepOfTheKandinskyPriorsConfigIsDiffusers(int stepIndex, float[] expected) =>
        AssertStep(new UnClipConfig { PredictionType = PredictionType.Sample, ClipSample = true, ClipSampleRange = 10 }, stepIndex, expected);

    [Theory]
    [MemberData(nameof(Epsilon))]
    public void AnEpsilonStepIsDiffusers(int stepIndex, float[] expected) =>
        AssertStep(new UnClipConfig { PredictionType = PredictionType.Epsilon, ClipSample = true, ClipSampleRange = 1 }, stepIndex, expected);

    [Fact]
    public void TheNoiseOfAStepIsItsDrawOfTheStreamAndTheLastStepHasNone()
    {
        var scheduler = new UnClipScheduler(new UnClipConfig { PredictionType = PredictionType.Sample }, 25);
        var noise = new NoiseStream(7, 0);
        float[] output = [.. Enumerable.Range(0, Width).Select(j => 0.1f * j)];
        var drawn = new float[Width];
        noise.Fill(drawn, NoiseStream.StepDraw(3));
        float[] a = [.. Enumerable.Repeat(0.5f, Width)], b = [.. a];
        scheduler.Step(3, output, a, noise);
        scheduler.Step(3, output, b, drawn);
        Assert.Equal(b, a);

        float[] last = [.. Enumerable.Repeat(0.5f, Width)];
        scheduler.Step(24, output, last, noise);
        float[] noiseless = [.. Enumerable.Repeat(0.5f, Width)];
        scheduler.Step(24, output, noiseless, new float[Width]);
        Assert.Equal(noiseless, last);
    }

    [Fact]
    public void ConfigsItDoesNotImplementAreRefusedNamingTheFile()
    {
        string path = Path.Combine(Path.GetTempPath(), $"unclip-{Guid.NewGuid():N}.json");
        try
        {
            File.WriteAllText(path, """{"_class_name": "UnCLIPScheduler", "variance_type": "learned_range"}""");
            var e = Assert.Throws<HierDiffInputException>(() => UnClipConfig.Load(path));
            Assert.Equal($"{path}: variance_type is learned_range; HierDiff implements fixed_small_log (the prior predicts no variance)", e.Message);
            File.WriteAllText(path, """{"_class_name": "UnCLIPScheduler", "prediction_type": "sample", "clip_sample_range": 10.0}""");
            UnClipConfig config = UnClipConfig.Load(path);
            Assert.Equal((PredictionType.Sample, true, 10.0), (config.PredictionType, config.ClipSample, config.ClipSampleRange));
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static void AssertStep(UnClipConfig config, int stepIndex, float[] expected)
    {
        var scheduler = new UnClipScheduler(config, 25);
        float[] sample = [.. Enumerable.Range(0, Width).Select(j => (float)(2 * Math.Sin(0.3 * j)))];
        float[] output = [.. Enumerable.Range(0, Width).Select(j => (float)(12 * Math.Cos(0.7 * j)))];
        float[] noise = [.. Enumerable.Range(0, Width).Select(j => (float)Math.Sin(1.1 * j))];
        scheduler.Step(stepIndex, output, sample, noise);
        for (int j = 0; j < Width; j++)
        {
            Assert.Equal(expected[j], sample[j], 2e-5f);
        }
    }
}
