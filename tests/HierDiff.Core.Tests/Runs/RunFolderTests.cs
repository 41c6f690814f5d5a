using HierDiff.Core.Runs;

namespace HierDiff.Core.Tests.Runs;

/// <summary><see cref="RunFolder"/> follows links as realpath(3) does and keeps every file it reads inside the folder.</summary>
public sealed class RunFolderTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "hierdiff-run-folder-" + Guid.NewGuid().ToString("N"));
    private readonly string _run;

    public RunFolderTests()
    {
        _run = Path.Combine(_root, "run");
        Directory.CreateDirectory(Path.Combine(_run, "images"));
        File.WriteAllText(Path.Combine(_run, "real.png"), "inside");
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void ChainOfRelativeLinksInsideTheFolderIsFollowed()
    {
        Directory.CreateDirectory(Path.Combine(_run, "x"));
        File.CreateSymbolicLink(Path.Combine(_run, "x", "b.png"), "../real.png");
        File.CreateSymbolicLink(Path.Combine(_run, "images", "a.png"), "../x/b.png");

        RunFolder folder = RunFolder.Open(_run);
        Assert.Equal("inside", System.Text.Encoding.UTF8.GetString(folder.Read("images/a.png", "manifest.json: prompts[0].image", 100)));
    }

    [Fact]
    public void LinkInsideThatLeadsOutThroughAnotherLinkIsRefused()
    {
        File.WriteAllText(Path.Combine(_root, "secret.png"), "outside");
        File.CreateSymbolicLink(Path.Combine(_run, "hop.png"), "../secret.png");
        File.CreateSymbolicLink(Path.Combine(_run, "images", "a.png"), "../hop.png");

        var e = Assert.Throws<HierDiffInputException>(() => RunFolder.Open(_run).Read("images/a.png", "manifest.json: prompts[0].image", 100));
        Assert.Equal($"manifest.json: prompts[0].image: 'images/a.png' is a link to {Path.Combine(_root, "secret.png")}, outside the run folder", e.Message);
    }

    [Fact]
    public void LoopOfLinksIsRefusedNamingTheField()
    {
        File.CreateSymbolicLink(Path.Combine(_run, "images", "a.png"), "b.png");
        File.CreateSymbolicLink(Path.Combine(_run, "images", "b.png"), "a.png");

        var e = Assert.Throws<HierDiffInputException>(() => RunFolder.Open(_run).Read("images/a.png", "manifest.json: prompts[0].image", 100));
        Assert.StartsWith("manifest.json: prompts[0].image: ", e.Message);
        Assert.Contains("more than 40 links", e.Message);
    }

    [Fact]
    public void FolderOpenedThroughALinkReadsItsOwnFiles()
    {
        string link = Path.Combine(_root, "latest");
        Directory.CreateSymbolicLink(link, _run);
        Assert.Equal("inside", System.Text.Encoding.UTF8.GetString(RunFolder.Open(link).Read("real.png", "x", 100)));
    }

    [Fact]
    public void FileLargerThanTheLimitIsRefusedWithItsSize()
    {
        var e = Assert.Throws<HierDiffInputException>(() => RunFolder.Open(_run).Read("real.png", "manifest.json: prompts[0].image", 5));
        Assert.Contains("is 6 bytes; at most 5 are read", e.Message);
    }
}
