namespace HierDiff.Cli.Tests;

public class PlanCommandTests
{
    [Fact]
    public void JsonOutputCarriesThePapersCountAndScipysLinkage()
    {
        CliRunner.Result result = CliRunner.Run("plan", "--embeddings", CliRunner.Data("random-12x8.npy"), "--tau", "1", "--steps", "40", "--json");
        Assert.Equal(0, result.ExitCode);
        Assert.Equal("", result.Stderr);

        using JsonDocument plan = JsonDocument.Parse(result.Stdout);
        using JsonDocument reference = JsonDocument.Parse(File.ReadAllBytes(CliRunner.Data("random-12x8.json")));
        JsonElement p = plan.RootElement;
        Assert.Equal(12, p.GetProperty("prompts").GetInt32());
        Assert.Equal(40, p.GetProperty("steps").GetInt32());
        Assert.Equal(1.0, p.GetProperty("tau").GetDouble());
        Assert.Equal(reference.RootElement.GetProperty("denoiser_calls").GetProperty("tau=1.0,K=40").GetInt64(), p.GetProperty("denoiser_calls").GetInt64());
        Assert.Equal(480, p.GetProperty("standard_denoiser_calls").GetInt64());
        Assert.Equal(1 - (p.GetProperty("denoiser_calls").GetDouble() / 480), p.GetProperty("savings").GetDouble(), 12);
        Assert.Equal(p.GetProperty("denoiser_calls").GetInt64(), p.GetProperty("active_per_step").EnumerateArray().Sum(a => a.GetInt64()));
        Assert.Equal(40, p.GetProperty("active_per_step").GetArrayLength());

        JsonElement[] ours = [.. p.GetProperty("linkage").EnumerateArray()];
        JsonElement[] scipy = [.. reference.RootElement.GetProperty("linkage").EnumerateArray()];
        Assert.Equal(scipy.Length, ours.Length);
        for (int i = 0; i < ours.Length; i++)
        {
            Assert.Equal(scipy[i][0].GetDouble(), ours[i][0].GetDouble());
            Assert.Equal(scipy[i][1].GetDouble(), ours[i][1].GetDouble());
            Assert.Equal(scipy[i][2].GetDouble(), ours[i][2].GetDouble(), 1e-9);
            Assert.Equal(scipy[i][3].GetDouble(), ours[i][3].GetDouble());
        }
    }

    [Fact]
    public void AboveMaxExactThePlanIsShardedAndSaysSo()
    {
        CliRunner.Result json = CliRunner.Run("plan", "--embeddings", CliRunner.Data("random-12x8.npy"), "--tau", "1", "--max-exact", "4", "--json");
        Assert.True(json.ExitCode == 0, json.Stderr);
        using JsonDocument plan = JsonDocument.Parse(json.Stdout);
        JsonElement tree = plan.RootElement.GetProperty("tree");
        Assert.Equal("sharded", tree.GetProperty("kind").GetString());
        Assert.Equal(4, tree.GetProperty("shards").GetInt32());
        Assert.True(tree.GetProperty("largest_shard").GetInt32() <= 4);
        Assert.Equal(11, plan.RootElement.GetProperty("linkage").GetArrayLength());

        CliRunner.Result table = CliRunner.Run("plan", "--embeddings", CliRunner.Data("random-12x8.npy"), "--tau", "1", "--max-exact", "4");
        Assert.Contains("sharded: 4 shards", table.Stdout);
        CliRunner.Result exact = CliRunner.Run("plan", "--embeddings", CliRunner.Data("random-12x8.npy"), "--tau", "1");
        Assert.Contains("exact Ward", exact.Stdout);
    }

    [Fact]
    public void TargetSavingsPicksATauThatReachesIt()
    {
        CliRunner.Result result = CliRunner.Run("plan", "--embeddings", CliRunner.Data("random-12x8.npy"), "--target-savings", "0.3", "--json");
        Assert.Equal(0, result.ExitCode);
        using JsonDocument plan = JsonDocument.Parse(result.Stdout);
        Assert.True(plan.RootElement.GetProperty("savings").GetDouble() >= 0.3);
        Assert.Equal(0.3, plan.RootElement.GetProperty("target_savings").GetDouble());
        Assert.Equal(40, plan.RootElement.GetProperty("steps").GetInt32());
    }

    [Fact]
    public void ASplitScheduleBendsTheThresholdsAndKeepsTheLastStepsPrivate()
    {
        CliRunner.Result result = CliRunner.Run(
            "plan", "--embeddings", CliRunner.Data("random-12x8.npy"), "--tau", "1", "--split-shape", "2", "--private-steps", "5", "--json");
        Assert.True(result.ExitCode == 0, result.Stderr);
        using JsonDocument plan = JsonDocument.Parse(result.Stdout);
        JsonElement p = plan.RootElement;
        Assert.Equal(2.0, p.GetProperty("split_shape").GetDouble());
        Assert.Equal(5, p.GetProperty("private_steps").GetInt32());
        double[] phi = [.. p.GetProperty("thresholds").EnumerateArray().Select(t => t.GetDouble())];
        Assert.Equal(1.0, phi[0]);
        Assert.Equal(Math.Pow(1 - (1.0 / 34), 2), phi[1], 12);
        Assert.All(phi[^6..], t => Assert.Equal(0, t));
        Assert.Equal(p.GetProperty("active_per_step").EnumerateArray().Sum(a => a.GetInt64()), p.GetProperty("denoiser_calls").GetInt64());
        Assert.All(p.GetProperty("active_per_step").EnumerateArray().Skip(34), a => Assert.Equal(12, a.GetInt32()));
    }

    [Fact]
    public void TheTableShowsCallsAndSavings()
    {
        CliRunner.Result result = CliRunner.Run("plan", "--embeddings", CliRunner.Data("random-12x8.npy"), "--tau", "2", "--steps", "10");
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("denoiser calls", result.Stdout);
        Assert.Contains("60", result.Stdout); // the paper's count for tau = 2, K = 10
        Assert.Contains("50.00%", result.Stdout);
    }

    [Theory]
    [InlineData("error: give exactly one of --tau and --target-savings", "--embeddings", "random-12x8.npy")]
    [InlineData("error: give --embeddings FILE or --prompts FILE", "--tau", "1")]
    [InlineData("error: --tau expects a finite number, not 'abc'", "--embeddings", "random-12x8.npy", "--tau", "abc")]
    [InlineData("error: --tau expects a finite number, not 'NaN'", "--embeddings", "random-12x8.npy", "--tau", "NaN")]
    [InlineData("error: --tau expects a finite number, not '1e400'", "--embeddings", "random-12x8.npy", "--tau", "1e400")]
    [InlineData("error: --target-savings expects a finite number, not '-Infinity'", "--embeddings", "random-12x8.npy", "--target-savings", "-Infinity")]
    [InlineData("error: --steps (options.steps): must be from 1 to 1000, not 2147483647", "--embeddings", "random-12x8.npy", "--tau", "1", "--steps", "2147483647")]
    [InlineData("error: --steps (options.steps): must be from 1 to 1000, not 0", "--embeddings", "random-12x8.npy", "--tau", "1", "--steps", "0")]
    [InlineData("error: --tau (options.tau): must be a finite number of 0 or more, not -1", "--embeddings", "random-12x8.npy", "--tau", "-1")]
    [InlineData("error: --target-savings (options.target_savings): 0.99 is out of reach: 12 prompts can save at most", "--embeddings", "random-12x8.npy", "--target-savings", "0.99")]
    [InlineData("error: --split-shape (options.split_shape): must be a number above 0", "--embeddings", "random-12x8.npy", "--tau", "1", "--split-shape", "-2")]
    [InlineData("error: --private-steps (options.private_steps): must be from 0 to 39", "--embeddings", "random-12x8.npy", "--tau", "1", "--private-steps", "40")]
    [InlineData("error: target savings 0.8 is out of reach: with 40 steps this prompt set saves at most 0.6646 (every prompt still needs its own last 11 steps (private steps 10))", "--embeddings", "random-12x8.npy", "--target-savings", "0.8", "--private-steps", "10")]
    [InlineData("error: README.md: unsupported embeddings file type '.md'", "--embeddings", "README.md", "--tau", "1")]
    [InlineData("error: missing.npy: cannot read the embeddings file", "--embeddings", "missing.npy", "--tau", "1")]
    public void BadInputIsOneLineOnStderrAndExitCode2(string expected, params string[] args)
    {
        string[] resolved = args.Select(a => a.EndsWith(".npy", StringComparison.Ordinal) || a.EndsWith(".md", StringComparison.Ordinal) ? CliRunner.Data(a) : a).ToArray();
        CliRunner.Result result = CliRunner.Run(["plan", .. resolved]);
        Assert.Equal(2, result.ExitCode);
        Assert.Equal("", result.Stdout);
        string line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith(expected, line.Replace(CliRunner.Data("") + Path.DirectorySeparatorChar, ""));
    }
}
