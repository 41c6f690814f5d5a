using System.Globalization;
using System.Text.Json;
using HierDiff.Core.Noise;
using HierDiff.Core.Schedulers;
using Xunit.Abstractions;
using static HierDiff.Core.Tests.Schedulers.SchedulerTestKit;

namespace HierDiff.Core.Tests.Schedulers;

/// <summary>
/// Every scheduler against diffusers' own scheduler code on the same inputs: timesteps, sigmas, the initial noise
/// scale and a whole trajectory. The numbers are in TestData/schedulers/reference/, one file per scheduler and
/// float32.json, made by
/// tools/make-scheduler-reference.py (each file's header names the diffusers commit): a 16-value latent from
/// NoiseStream(1234, 5), FakeDenoiser with Condition(1) as the model, and for stochastic schedulers the step noise
/// of the same stream, which the script computes as NoiseStream does.
/// </summary>
/// <remarks>
/// <para>The script runs diffusers' scheduler modules with float32 read as float64 in their torch and numpy calls,
/// so their schedules and step coefficients are double, as HierDiff's: in float32, 1 - alphas_cumprod[0] loses
/// four digits (diffusers' smallest sigma is 8e-5 off for beta_start 1e-4) and zero-SNR sigma_down five, which
/// would hide real differences. Latents, model outputs, saved histories and noise are float32 on both sides, so
/// values still differ by float32 rounding, about 1e-7 of the operands' size.</para>
/// <para>float32.json holds diffusers as it ships, in float32, for the configs Stable Diffusion exports carry and
/// the samplers picked for them: its trajectories pass the same check, its schedules (timesteps, sigmas,
/// init_noise_sigma) agree to 5e-5, since float32 leaves diffusers' own smallest sigma 1.3e-5 off for SD's betas.</para>
/// <para>A value passes when |ours - diffusers| &lt;= 1e-5 * max(|diffusers|, floor). For timesteps, sigmas and
/// init_noise_sigma the floor is 0: purely relative. For a latent the floor is the latent's largest magnitude:
/// 1e-5 relative in the max norm. An element much smaller than the others carries the absolute rounding error of
/// the float32 operands it was computed from (x + c d, with x near -c d, can end a thousand times smaller than x),
/// so its own relative error says nothing about the scheduler.</para>
/// </remarks>
public class SchedulerReferenceTests(ITestOutputHelper output)
{
    private const double Tolerance = 1e-5;
    private const double Float32ScheduleTolerance = 5e-5;
    private const ulong Seed = 1234;
    private const int Stream = 5;

    private static readonly Lazy<Dictionary<string, JsonDocument>> Files = new(LoadFiles);

    public static TheoryData<string, int, string> Cases()
    {
        var data = new TheoryData<string, int, string>();
        foreach (var (family, document) in Files.Value.OrderBy(f => f.Key, StringComparer.Ordinal))
        {
            int index = 0;
            foreach (var c in document.RootElement.GetProperty("cases").EnumerateArray())
            {
                // The description makes each row's name say what it runs.
                data.Add(family, index++, $"{c.GetProperty("name").GetString()} at {c.GetProperty("steps").GetInt32()} steps");
            }
        }

        return data;
    }

    [Fact]
    public void EveryRegisteredSchedulerHasReferenceNumbers()
    {
        var covered = Files.Value.Values.Where(d => d.RootElement.TryGetProperty("scheduler", out _))
            .Select(d => d.RootElement.GetProperty("scheduler").GetString()).ToHashSet();
        Assert.All(SchedulerFactory.Names, name => Assert.Contains(name, covered));
        Assert.All(Files.Value, f => Assert.Equal(
            "git commit 58eb52c0803ea9af3abec60841c2a093bdf1f951", f.Value.RootElement.GetProperty("diffusers").GetString()));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesDiffusers(string family, int index, string description)
    {
        var root = Files.Value[family].RootElement;
        var c = root.GetProperty("cases")[index];
        string where = $"{family}.json case {index} ({description})";
        var config = SchedulerConfig.Parse(c.GetProperty("config").GetRawText(), where);
        int steps = c.GetProperty("steps").GetInt32();
        // float32.json mixes schedulers, one per case; the other files are one scheduler's.
        string name = (c.TryGetProperty("scheduler", out var own) ? own : root.GetProperty("scheduler")).GetString()!;
        var scheduler = SchedulerFactory.Create(name, config, steps);

        // diffusers as it ships (float32.json) has its own smallest sigmas 1.3e-5 off: 1 - alphas_cumprod[0] in float32.
        double scheduleTolerance = family == "float32" ? Float32ScheduleTolerance : Tolerance;
        AssertClose(Doubles(c.GetProperty("timesteps")), scheduler.Timesteps, 0, $"{where}: timesteps", scheduleTolerance);
        if (c.GetProperty("sigmas").ValueKind != JsonValueKind.Null)
        {
            AssertClose(Doubles(c.GetProperty("sigmas")), SigmasOf(scheduler), 0, $"{where}: sigmas", scheduleTolerance);
        }

        AssertClose(
            [c.GetProperty("init_noise_sigma").GetDouble()], [scheduler.InitNoiseSigma], 0, $"{where}: init_noise_sigma", scheduleTolerance);

        var trajectory = c.GetProperty("trajectory").EnumerateArray().Select(Doubles).ToArray();
        Assert.Equal(scheduler.Timesteps.Count + 1, trajectory.Length);
        var noise = new NoiseStream(Seed, Stream);
        float[] condition = Condition(1);
        var latent = new float[trajectory[0].Length];
        var input = new float[latent.Length];
        var modelOutput = new float[latent.Length];
        scheduler.InitializeLatent(latent, noise);
        double worst = AssertLatent(trajectory[0], latent, $"{where}: initial latent");
        var state = scheduler.CreateState();
        for (int i = 0; i < scheduler.Timesteps.Count; i++)
        {
            scheduler.ScaleModelInput(latent, input, i);
            FakeDenoiser(input, scheduler.Timesteps[i], condition, modelOutput);
            scheduler.Step(state, modelOutput, latent, noise);
            worst = Math.Max(worst, AssertLatent(trajectory[i + 1], latent, $"{where}: latent after step {i}"));
        }

        // The margin, for whoever changes a scheduler (dotnet test --logger "console;verbosity=detailed" shows it).
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{family}: {description}: worst latent error {worst:E2}"));
    }

    /// <summary>The sigmas of a scheduler that has them (the reference has sigmas exactly when diffusers does).</summary>
    private static IReadOnlyList<double> SigmasOf(DiffusionScheduler scheduler) => scheduler switch
    {
        SigmaScheduler s => s.Sigmas,
        DpmSolverMultistepScheduler s => s.Sigmas,
        UniPcMultistepScheduler s => s.Sigmas,
        FlowMatchEulerScheduler s => s.Sigmas,
        _ => throw new InvalidOperationException($"diffusers has sigmas for {scheduler.Name}; this test cannot read them"),
    };

    /// <summary>A latent, relative to its largest magnitude (the max norm).</summary>
    private static double AssertLatent(double[] expected, float[] actual, string what) =>
        AssertClose(expected, actual.Select(v => (double)v).ToArray(), expected.Max(Math.Abs), what);

    /// <summary>Element-wise |actual - expected| &lt;= 1e-5 * max(|expected|, floor); returns the largest
    /// error relative to max(|expected|, floor).</summary>
    private static double AssertClose(
        IReadOnlyList<double> expected, IReadOnlyList<double> actual, double floor, string what, double tolerance = Tolerance)
    {
        Assert.True(expected.Count == actual.Count, $"{what}: {actual.Count} values, diffusers has {expected.Count}");
        double worst = 0;
        for (int j = 0; j < expected.Count; j++)
        {
            double error = Math.Abs(actual[j] - expected[j]);
            double size = Math.Max(Math.Abs(expected[j]), floor);
            Assert.True(
                error <= tolerance * size,
                string.Create(CultureInfo.InvariantCulture, $"{what}: value {j} is {actual[j]:R}, diffusers {expected[j]:R} (relative error {error / size:E2})"));
            worst = error == 0 ? worst : Math.Max(worst, error / size);
        }

        return worst;
    }

    private static double[] Doubles(JsonElement array) => array.EnumerateArray().Select(v => v.GetDouble()).ToArray();

    private static Dictionary<string, JsonDocument> LoadFiles()
    {
        string folder = TestPaths.Data("schedulers", "reference");
        return Directory.GetFiles(folder, "*.json").ToDictionary(
            p => Path.GetFileNameWithoutExtension(p), p => JsonDocument.Parse(File.ReadAllText(p)), StringComparer.Ordinal);
    }
}
