using Microsoft.Extensions.Configuration;

namespace HierDiff.Functions.Tests;

public sealed class HierDiffSettingsTests
{
    private static HierDiffSettings From(params (string Key, string Value)[] settings) =>
        HierDiffSettings.From(new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value)))
            .Build());

    [Fact]
    public void UnsetNumbersTakeTheirDefaultsAndSetOnesAreRead()
    {
        HierDiffSettings defaults = From();
        Assert.Equal(PipelineSettings.DefaultMaxSubtreeCalls, defaults.Pipeline.MaxSubtreeCalls);
        Assert.Equal(0, defaults.Pipeline.PricePerGpuSecond);
        Assert.Equal(64L * 1024 * 1024, defaults.Pipeline.Limits.MaxFileBytes);

        HierDiffSettings set = From(("HierDiff:MaxSubtreeCalls", "0"), ("HierDiff:PricePerGpuSecond", "0.000508"), ("HierDiff:MaxPrompts", "20"), ("HierDiff:MaxPromptFileBytes", "1048576"));
        Assert.Equal(0, set.Pipeline.MaxSubtreeCalls);
        Assert.Equal(0.000508, set.Pipeline.PricePerGpuSecond);
        Assert.Equal(20, set.Pipeline.Limits.MaxPrompts);
        Assert.Equal(1048576, set.Pipeline.Limits.MaxFileBytes);
    }

    [Theory]
    [InlineData("MaxSubtreeCalls", "lots")]
    [InlineData("MaxSubtreeCalls", "-1")]
    [InlineData("MaxPrompts", "2.5")]
    [InlineData("MaxPromptLength", "0")]
    [InlineData("MaxPromptFileBytes", "1e9")]
    [InlineData("PricePerGpuSecond", "NaN")]
    public void ABadNumberStopsTheAppNamingTheSetting(string name, string value)
    {
        var e = Assert.Throws<InvalidOperationException>(() => From(($"HierDiff:{name}", value)));
        Assert.Contains($"HierDiff__{name}", e.Message);
        Assert.Contains(value, e.Message);
    }
}
