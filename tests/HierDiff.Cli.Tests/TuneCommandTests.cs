namespace HierDiff.Cli.Tests;

/// <summary><c>hierdiff tune</c> and <c>generate --tune</c> as a user runs them, on a tiny model in the real layout.</summary>
public sealed class TuneCommandTests : IDisposable
{
    private static readonly string[] Prompts = ShapePrompts.SixInThreeGroups;

    private readonly TinyGenerationInputs _inputs = new("hierdiff-tune-", Prompts);

    public void Dispose() => _inputs.Dispose();

    private CliRunner.Result Tune(string name, params string[] extra) => CliRunner.Run(
        ["tune", "--prompts", _inputs.PromptFile, "--model", _inputs.Model, "--out", _inputs.Sub(name), "--steps", "6", .. extra]);

    [Fact]
    public void TuneScoresEachSettingWithinItsBudgetRecommendsTheSameSettingTwiceAndGenerateRunsIt()
    {
        // The standard run (6 x 7 PNDM calls) and a few rungs: the budget stops the ladder.
        CliRunner.Result first = Tune("a", "--max-calls", "160", "--min-win", "0");
        Assert.True(first.ExitCode == 0, first.Stderr);
        using JsonDocument a = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(_inputs.Sub("a"), "tune.json")));
        JsonElement tune = a.RootElement;
        JsonElement[] settings = [.. tune.GetProperty("settings").EnumerateArray()];
        Assert.NotEmpty(settings);
        Assert.NotEmpty(tune.GetProperty("skipped").EnumerateArray());
        Assert.True(tune.GetProperty("calls_spent").GetInt64() <= 160);
        foreach (JsonElement s in settings)
        {
            Assert.True(s.GetProperty("savings").GetDouble() >= s.GetProperty("setting").GetProperty("target_savings").GetDouble());
            Assert.Equal(Prompts.Length, s.GetProperty("wins").GetInt32() + s.GetProperty("ties").GetInt32() + s.GetProperty("losses").GetInt32());
            double[] interval = [.. s.GetProperty("win_interval").EnumerateArray().Select(v => v.GetDouble())];
            Assert.InRange(s.GetProperty("win_percent").GetDouble(), interval[0], interval[1]);
            Assert.True(File.Exists(Path.Combine(_inputs.Sub("a"), s.GetProperty("folder").GetString()!, "scores.json")));
        }

        // With no minimum, the recommendation is the setting that saved most.
        JsonElement recommended = tune.GetProperty("recommended");
        double most = settings.Max(s => s.GetProperty("savings").GetDouble());
        static string Key(JsonElement setting) => string.Join(" ", setting.EnumerateObject().Select(p => $"{p.Name}={p.Value}"));
        Assert.Equal(most, settings.First(s => Key(s.GetProperty("setting")) == Key(recommended)).GetProperty("savings").GetDouble());

        Assert.Equal(0, Tune("b", "--max-calls", "160", "--min-win", "0").ExitCode);
        using JsonDocument b = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(_inputs.Sub("b"), "tune.json")));
        Assert.Equal(Key(recommended), Key(b.RootElement.GetProperty("recommended")));

        CliRunner.Result generated = CliRunner.Run(
            "generate", "--prompts", _inputs.PromptFile, "--model", _inputs.Model, "--out", _inputs.Sub("run"), "--steps", "6", "--tune", Path.Combine(_inputs.Sub("a"), "tune.json"));
        Assert.True(generated.ExitCode == 0, generated.Stderr);
        using JsonDocument manifest = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(_inputs.Sub("run"), "manifest.json")));
        Assert.Equal(recommended.GetProperty("target_savings").GetDouble(), manifest.RootElement.GetProperty("target_savings").GetDouble());
        Assert.Equal(recommended.GetProperty("split_shape").GetDouble(), manifest.RootElement.GetProperty("split_shape").GetDouble());
        Assert.Equal(recommended.GetProperty("private_steps").GetInt32(), manifest.RootElement.GetProperty("private_steps").GetInt32());
    }

    [Fact]
    public void ATuneFileWithoutARecommendationOrWithATauIsRefused()
    {
        string tune = _inputs.Sub("tune.json");
        File.WriteAllText(tune, "{\"recommended\": null, \"no_recommendation\": \"no setting won at least 50% against standard; the best won 31%\", \"steps\": 6}");
        CliRunner.Result none = CliRunner.Run("generate", "--prompts", _inputs.PromptFile, "--model", _inputs.Model, "--out", _inputs.Sub("x"), "--tune", tune);
        Assert.Equal(2, none.ExitCode);
        Assert.Contains("recommends no setting (no setting won at least 50% against standard; the best won 31%)", none.Stderr);

        CliRunner.Result both = CliRunner.Run("generate", "--prompts", _inputs.PromptFile, "--model", _inputs.Model, "--out", _inputs.Sub("x"), "--tune", tune, "--tau", "1");
        Assert.Equal(2, both.ExitCode);
        Assert.Contains("--tune (tune) gives the savings target and split schedule", both.Stderr);
        Assert.False(Directory.Exists(_inputs.Sub("x")));
    }

    [Theory]
    [InlineData("--min-win must be a fraction from 0 to 1, not 50", "--min-win", "50")]
    [InlineData("--sample must be at least 2 prompts, not 1", "--sample", "1")]
    [InlineData("--max-calls must be a positive number of calls, not 0", "--max-calls", "0")]
    public void BadTuneOptionsAreRefused(string expected, params string[] options)
    {
        CliRunner.Result result = Tune("bad", options);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains(expected, result.Stderr);
        Assert.False(Directory.Exists(_inputs.Sub("bad")));
    }
}
