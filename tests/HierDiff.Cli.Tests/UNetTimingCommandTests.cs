namespace HierDiff.Cli.Tests;

/// <summary><c>hierdiff unet-timing</c> on a tiny model in the real export layout.</summary>
public sealed class UNetTimingCommandTests : IDisposable
{
    private readonly TempDirectory _temp = new("hierdiff-unet-timing-");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void TimesEachBatchSizeAgainstTheLargest()
    {
        string model = TinyStableDiffusion.Write(_temp.Sub("tiny-sd"));
        CliRunner.Result result = CliRunner.Run("unet-timing", "--model", model, "--sizes", "4", "1", "2");
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("| batch | ms per call | ms per item | item cost / batch-4 item |", result.Stdout);
        string[] rows = [.. result.Stdout.Split('\n').Where(l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^\| [0-9]+ \|"))];
        Assert.Equal(["1", "2", "4"], rows.Select(r => r.Split('|')[1].Trim()));
        Assert.EndsWith("| 1.00 |", rows[^1]);
        Assert.Contains("loaded in", result.Stdout);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("257")]
    public void BatchSizesOutsideOneTo256AreRefusedBeforeTheModelLoads(string size)
    {
        CliRunner.Result result = CliRunner.Run("unet-timing", "--model", _temp.Sub("no-such-model"), "--sizes", size);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--sizes must be batch sizes of 1 to 256", result.Stderr);
    }
}
