namespace HierDiff.Functions.Tests;

public class RunStarterTests
{
    [Fact]
    public void ARunIdIsTheSameForTheSameUploadAndDiffersForANewOne()
    {
        string a = RunStarter.RunIdFor("batch/p.txt", "\"0x8DC1\"");
        Assert.Equal(a, RunStarter.RunIdFor("batch/p.txt", "\"0x8DC1\""));
        Assert.NotEqual(a, RunStarter.RunIdFor("batch/p.txt", "\"0x8DC2\""));
        Assert.NotEqual(a, RunStarter.RunIdFor("batch/q.txt", "\"0x8DC1\""));
        Assert.Matches("^blob-[0-9a-f]{24}$", a);
    }
}
