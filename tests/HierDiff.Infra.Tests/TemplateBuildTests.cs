namespace HierDiff.Infra.Tests;

/// <summary>Every template under infra/ compiles and lints with no diagnostic at all: warnings count as failures.</summary>
public sealed class TemplateBuildTests
{
    public static TheoryData<string> Templates() => [.. Bicep.TemplateFiles()];

    [Fact]
    public void InfraHasTheMainTemplateAndItsModules()
    {
        string[] files = [.. Bicep.TemplateFiles()];
        Assert.Contains("main.bicep", files);
        Assert.True(files.Count(f => f.StartsWith("modules", StringComparison.Ordinal)) >= 8, string.Join(", ", files));
    }

    [Theory]
    [MemberData(nameof(Templates))]
    public void BuildsWithoutWarnings(string template)
    {
        (int code, _, string stderr) = Bicep.Run("build", template, "--stdout");
        Assert.True(code == 0, stderr);
        Assert.True(string.IsNullOrWhiteSpace(stderr), $"bicep build {template}:\n{stderr}");
    }

    [Theory]
    [MemberData(nameof(Templates))]
    public void LintsClean(string template)
    {
        (int code, string stdout, string stderr) = Bicep.Run("lint", template);
        Assert.True(code == 0, stderr);
        Assert.True(string.IsNullOrWhiteSpace(stdout + stderr), $"bicep lint {template}:\n{stdout}{stderr}");
    }

    [Fact]
    public void NoRegistryModules()
    {
        // Registry modules (br:, br/public:, ts:) cannot be restored offline: every module is a local file.
        foreach (string template in Bicep.TemplateFiles())
        {
            string text = File.ReadAllText(Path.Combine(Bicep.InfraDirectory, template));
            Assert.DoesNotMatch(@"module\s+\w+\s+'(br|ts)[:/]", text);
        }
    }
}
