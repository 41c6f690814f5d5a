using System.Text.Json.Nodes;

namespace HierDiff.Cli.Tests;

/// <summary>
/// Prompts, file names and manifest fields are shown on the terminal with their control characters escaped (ESC as
/// \u001b): raw, ESC starts sequences that recolour, retitle or clear the terminal, and BEL rings it.
/// </summary>
public sealed class ControlCharacterTests : IDisposable
{
    private const string Hostile = "\u001b]0;pwned\u0007\u001b[2J";
    private const string Escaped = "\\u001b]0;pwned\\u0007\\u001b[2J";

    private readonly TempDirectory _temp = new("hierdiff-control-");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void EvalShowsAPromptsControlCharactersEscaped() =>
        AssertRefusedEscaped("eval", p => p["text"] = $"a dog {Hostile}");

    [Fact]
    public void CompareShowsPromptsAndModesEscaped()
    {
        var a = new TestRunFolder(_temp.Sub("a"));
        var b = new TestRunFolder(_temp.Sub("b"));
        a.EditManifest(m => m["mode"] = $"hierarchical {Hostile}");
        CliRunner.Result table = CliRunner.Run("compare", a.Path, b.Path);
        Assert.True(table.ExitCode == 0, table.Stderr);
        AssertEscaped(table.Stdout);

        a.EditPrompt(0, p => p["text"] = $"{TestRunFolder.Prompts[0]} {Hostile}");
        CliRunner.Result refused = CliRunner.Run("compare", a.Path, b.Path);
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("different prompts", refused.Stderr);
        AssertEscaped(refused.Stderr);
    }

    [Fact]
    public void ReportShowsFileNamesEscaped()
    {
        AssertRefusedEscaped("report", p => p["image"] = $"images/{Hostile}.png");

        // The run folder's own name is shown in what report wrote.
        var named = new TestRunFolder(_temp.Sub($"run {Hostile}"));
        CliRunner.Result wrote = CliRunner.Run("report", "--run", named.Path);
        Assert.True(wrote.ExitCode == 0, wrote.Stderr);
        AssertEscaped(wrote.Stdout);
    }

    /// <summary><paramref name="command"/> --run on a run folder whose first prompt <paramref name="edit"/> made hostile:
    /// refused as an input error, with the hostile text escaped.</summary>
    private void AssertRefusedEscaped(string command, Action<JsonObject> edit)
    {
        var run = new TestRunFolder(_temp.Sub("run"));
        run.EditPrompt(0, edit);
        CliRunner.Result refused = CliRunner.Run(command, "--run", run.Path);
        Assert.Equal(2, refused.ExitCode);
        AssertEscaped(refused.Stderr);
    }

    private static void AssertEscaped(string output)
    {
        Assert.Contains(Escaped, output);
        Assert.DoesNotContain('\u001b', output);
        Assert.DoesNotContain('\u0007', output);
    }
}
