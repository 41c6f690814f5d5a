using System.Diagnostics;

namespace HierDiff.Cli.Tests;

/// <summary>
/// What <c>generate --out</c> may replace, and that nothing of the user's is lost however a run ends: each test runs
/// the real program, on a tiny model in the real export layout.
/// </summary>
public sealed class OutputFolderTests : IDisposable
{
    private readonly TinyGenerationInputs _inputs = new(
        "hierdiff-out-", ["a red circle on a blue background", "a green square on a white background", "a red circle on a blue background, striped"]);

    public void Dispose() => _inputs.Dispose();

    private string At(string name) => _inputs.Sub(name);

    private CliRunner.Result Generate(string outPath, params string[] extra) =>
        CliRunner.RunIn(_inputs.Root, null, ["generate", "--prompts", _inputs.PromptFile, "--model", _inputs.Model, "--out", outPath, "--steps", "3", .. extra]);

    /// <summary>Everything in the test folder that a run puts beside its output (staging folders, locks).</summary>
    private string[] Leftovers() => Directory.GetFileSystemEntries(_inputs.Root, ".*").Select(Path.GetFileName).Order().ToArray()!;

    [Fact]
    public void OverwritingAPreviousRunSpeltWithATrailingSlashReplacesIt()
    {
        Assert.Equal(0, Generate("prev").ExitCode);
        byte[] before = File.ReadAllBytes(At("prev/manifest.json"));

        CliRunner.Result again = Generate("prev/", "--overwrite", "--seed", "7");

        Assert.True(again.ExitCode == 0, again.Stderr);
        Assert.NotEqual(before, File.ReadAllBytes(At("prev/manifest.json")));
        Assert.Equal(3, Directory.GetFiles(At("prev/images")).Length);
        Assert.Empty(Leftovers());
    }

    [Theory]
    [InlineData("new/")]
    [InlineData("./new")]
    [InlineData("tiny-sd/../new")]
    public void AFolderIsOneFolderHoweverItIsSpelt(string spelling)
    {
        CliRunner.Result result = Generate(spelling);

        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Equal(3, Directory.GetFiles(At("new/images")).Length);
        Assert.Empty(Leftovers());
    }

    [Fact]
    public void ASymbolicLinkMeansTheFolderItNamesAndStaysALink()
    {
        Assert.Equal(0, Generate("prev").ExitCode);
        Directory.CreateSymbolicLink(At("link"), At("prev"));

        CliRunner.Result result = Generate("link", "--overwrite", "--seed", "9");

        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.NotNull(new DirectoryInfo(At("link")).LinkTarget);
        Assert.Contains("\"seed\": 9", File.ReadAllText(At("prev/manifest.json")));
        Assert.Empty(Leftovers());
    }

    [Fact]
    public void OverwriteRefusesAFolderHoldingAFileOfTheUsers()
    {
        Assert.Equal(0, Generate("prev").ExitCode);
        File.WriteAllText(At("prev/notes.txt"), "mine");

        CliRunner.Result refused = Generate("prev", "--overwrite");

        AssertRefused(refused, "--overwrite replaces only a previous HierDiff run, and this folder holds 'notes.txt'");
        Assert.Equal("mine", File.ReadAllText(At("prev/notes.txt")));
        Assert.True(File.Exists(At("prev/manifest.json")));
    }

    [Fact]
    public void OverwriteRefusesAFolderThatIsNoRun()
    {
        Directory.CreateDirectory(At("photos"));
        File.WriteAllText(At("photos/cat.png"), "mine");

        AssertRefused(Generate("photos", "--overwrite"), "holds no manifest.json of a HierDiff run");
        Assert.Equal("mine", File.ReadAllText(At("photos/cat.png")));
    }

    /// <summary>A previous run laid out as runs of more than 10,000 prompts are, its images in numbered folders.</summary>
    private void MoveImagesIntoFolders(string run)
    {
        string manifestPath = At($"{run}/manifest.json");
        var manifest = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(manifestPath))!;
        Directory.CreateDirectory(At($"{run}/images/0"));
        var images = manifest["images"]!.AsArray();
        for (int i = 0; i < images.Count; i++)
        {
            string name = (string)images[i]!;
            string moved = name.Replace("images/", "images/0/", StringComparison.Ordinal);
            File.Move(At($"{run}/{name}"), At($"{run}/{moved}"));
            images[i] = moved;
        }

        File.WriteAllText(manifestPath, manifest.ToJsonString());
    }

    [Fact]
    public void OverwriteReplacesAPreviousRunWithImagesInFolders_ButNotAFileOfTheUsersInOne()
    {
        Assert.Equal(0, Generate("prev").ExitCode);
        MoveImagesIntoFolders("prev");
        CliRunner.Result replaced = Generate("prev", "--overwrite");
        Assert.True(replaced.ExitCode == 0, replaced.Stderr);
        Assert.Equal(3, Directory.GetFiles(At("prev/images")).Length);

        MoveImagesIntoFolders("prev");
        File.WriteAllText(At("prev/images/0/holiday.png"), "mine");
        AssertRefused(Generate("prev", "--overwrite"), "'images/0/holiday.png'");
        Assert.Equal("mine", File.ReadAllText(At("prev/images/0/holiday.png")));
    }

    [Fact]
    public void OverwriteRefusesAnExtraImageInAPreviousRun()
    {
        Assert.Equal(0, Generate("prev").ExitCode);
        File.WriteAllText(At("prev/images/holiday.png"), "mine");

        AssertRefused(Generate("prev", "--overwrite"), "'images/holiday.png'");
        Assert.Equal("mine", File.ReadAllText(At("prev/images/holiday.png")));
    }

    [Fact]
    public void TheFolderHoldingThePromptFileIsRefused()
    {
        AssertRefused(Generate(".", "--overwrite"), "is the current folder");
        AssertRefused(Generate(_inputs.Root, "--overwrite"), "is the current folder");
        Assert.True(File.Exists(_inputs.PromptFile));
    }

    [Fact]
    public void TheFolderHoldingTheModelIsRefused()
    {
        string inside = _inputs.Sub("models");
        string model = TinyStableDiffusion.Write(Path.Combine(inside, "tiny"));

        CliRunner.Result refused = CliRunner.Run("generate", "--prompts", _inputs.PromptFile, "--model", model, "--out", inside, "--overwrite", "--steps", "2");

        AssertRefused(refused, "an input of this run");
        Assert.True(File.Exists(Path.Combine(model, "unet", "model.onnx")));
    }

    [Fact]
    public void TheRootTheHomeFolderAndTheFoldersAboveTheCurrentOneAreRefused()
    {
        AssertRefused(Generate("/", "--overwrite"), "is the file system's root");
        AssertRefused(Generate("..", "--overwrite"), "is the current folder or holds it");

        string home = At("home");
        Directory.CreateDirectory(home);
        File.WriteAllText(Path.Combine(home, ".profile"), "mine");
        CliRunner.Result refused = CliRunner.RunIn(_inputs.Root, new Dictionary<string, string> { ["HOME"] = home },
            "generate", "--prompts", _inputs.PromptFile, "--model", _inputs.Model, "--out", home, "--overwrite", "--steps", "2");
        AssertRefused(refused, "is your home folder");
        Assert.Equal("mine", File.ReadAllText(Path.Combine(home, ".profile")));
    }

    [Fact]
    public void AFolderThatCannotBeWrittenIsOneLine()
    {
        AssertRefused(Generate("/proc/hierdiff-test"), "--out /proc/hierdiff-test: cannot");
        AssertRefused(Generate(_inputs.PromptFile + "/out"), "--out");
    }

    [Fact]
    public void ASecondRunIntoTheSameFolderIsRefusedAtItsStart()
    {
        Assert.Equal(0, Generate("prev").ExitCode);

        // The lock a running generate holds beside its output folder.
        using (new FileStream(At(".prev.hierdiff-lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
        {
            CliRunner.Result refused = Generate("prev", "--overwrite");
            Assert.Equal(2, refused.ExitCode);
            Assert.Contains("another hierdiff run is writing this folder now", refused.Stderr);
            Assert.Equal([".prev.hierdiff-lock"], Leftovers());
        }

        Assert.True(File.Exists(At("prev/manifest.json")));
    }

    [Fact]
    public void WhatAKilledRunLeftIsRemovedByTheNextRunThere()
    {
        Assert.Equal(0, Generate("prev").ExitCode);
        using (Process run = StartLongRun("prev"))
        {
            WaitForStaging("prev");
            run.Kill();
            run.WaitForExit();
        }

        Assert.NotEmpty(Directory.GetDirectories(_inputs.Root, ".prev.partial-*"));
        Assert.True(File.Exists(At("prev/manifest.json")), "the old run stays whole while the new one is written");

        CliRunner.Result next = Generate("prev", "--overwrite");

        Assert.True(next.ExitCode == 0, next.Stderr);
        Assert.Empty(Leftovers());
    }

    [Theory]
    [InlineData("TERM", 143)]
    [InlineData("INT", 130)]
    public void AnInterruptedRunRemovesItsOwnStagingAndKeepsTheOldRun(string signal, int exitCode)
    {
        Assert.Equal(0, Generate("prev").ExitCode);
        byte[] before = File.ReadAllBytes(At("prev/manifest.json"));
        int exit;
        string stderr;
        using (Process run = StartLongRun("prev"))
        {
            WaitForStaging("prev");
            CliRunner.Signal(run, signal);
            stderr = run.StandardError.ReadToEnd();
            run.WaitForExit();
            exit = run.ExitCode;
        }

        Assert.Equal(exitCode, exit);
        Assert.Contains("interrupted", stderr);
        Assert.Equal(before, File.ReadAllBytes(At("prev/manifest.json")));
        Assert.Empty(Leftovers());
    }

    [Fact]
    public void AnOldRunSetAsideByACutShortSwapIsPutBack()
    {
        Assert.Equal(0, Generate("prev").ExitCode);
        byte[] before = File.ReadAllBytes(At("prev/manifest.json"));

        // Where there is no atomic exchange, the swap sets the old run aside first: a kill right then leaves this.
        Directory.Move(At("prev"), At(".prev.old-0123456789abcdef0123456789abcdef"));
        Directory.CreateDirectory(At(".prev.partial-0123456789abcdef0123456789abcdef"));

        AssertRefused(Generate("prev"), "the output folder exists and is not empty");
        Assert.Equal(before, File.ReadAllBytes(At("prev/manifest.json")));
        Assert.Empty(Leftovers());
    }

    [Fact]
    public void WorldWritesAllOrNothingAndReplacesOnlyItsOwnOutput()
    {
        AssertRefused(CliRunner.RunIn(_inputs.Root, null, "world", "--count", "3", "--out", _inputs.PromptFile), "is a file, not a folder");

        Assert.Equal(0, CliRunner.RunIn(_inputs.Root, null, "world", "--count", "3", "--out", "data").ExitCode);
        Assert.Equal(3, File.ReadAllLines(At("data/prompts.txt")).Length);
        AssertRefused(CliRunner.RunIn(_inputs.Root, null, "world", "--count", "3", "--out", "data"), "the output folder exists and is not empty");

        Assert.Equal(0, CliRunner.RunIn(_inputs.Root, null, "world", "--count", "5", "--out", "data", "--overwrite").ExitCode);
        Assert.Equal(5, File.ReadAllLines(At("data/prompts.txt")).Length);

        File.WriteAllText(At("data/notes.md"), "mine");
        AssertRefused(CliRunner.RunIn(_inputs.Root, null, "world", "--count", "3", "--out", "data", "--overwrite"),
            "--overwrite replaces only a previous output of hierdiff world, and this folder holds 'notes.md'");
        Assert.Equal("mine", File.ReadAllText(At("data/notes.md")));
    }

    /// <summary>A run that takes many seconds: many one-latent model calls.</summary>
    private Process StartLongRun(string outName)
    {
        string many = At("many.txt");
        // Long enough (120 x 500 calls of one item) that a signal always lands mid-run, even on a fast machine.
        File.WriteAllLines(many, Enumerable.Range(0, 120).Select(i => $"a red circle on a blue background number {i}"));
        return CliRunner.Start(_inputs.Root, null,
            "generate", "--prompts", many, "--model", _inputs.Model, "--out", outName, "--overwrite", "--mode", "standard", "--steps", "500", "--max-batch", "1");
    }

    /// <summary>Waits until the run has started denoising into its staging folder.</summary>
    private void WaitForStaging(string outName)
    {
        var clock = Stopwatch.StartNew();
        while (!Directory.GetDirectories(_inputs.Root, $".{outName}.partial-*").Any(d => Directory.Exists(Path.Combine(d, ".store", "runs"))))
        {
            Assert.True(clock.Elapsed < TimeSpan.FromMinutes(2), "the run never started");
            Thread.Sleep(50);
        }

        Thread.Sleep(300);
    }

    private void AssertRefused(CliRunner.Result result, string expected)
    {
        Assert.True(result.ExitCode == 2, $"exit {result.ExitCode}: {result.Stderr}");
        string line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(expected, line);
        Assert.Empty(Leftovers());
    }
}
