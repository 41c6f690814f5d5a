using System.Net;
using HierDiff.Core;

namespace HierDiff.Functions.Tests;

public class CallbackPolicyTests
{
    private static readonly CallbackPolicy Default = CallbackPolicy.FromSetting(null);

    [Theory]
    [InlineData("https://example.com/hook")]
    [InlineData("https://prod-12.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?sig=x")]
    [InlineData("https://8.8.8.8/hook")]
    public void PublicHttpsUrlsAreAccepted(string url) => Assert.Equal(new Uri(url), Default.Check(url));

    [Theory]
    [InlineData("http://example.com/hook", "must be an absolute https URL")]
    [InlineData("ftp://example.com/hook", "must be an absolute https URL")]
    [InlineData("/relative/hook", "must be an absolute https URL")]
    [InlineData("https://user:secret@example.com/hook", "must not carry credentials")]
    [InlineData("https://localhost/hook", "loopback, private or link-local")]
    [InlineData("https://api.localhost/hook", "loopback, private or link-local")]
    [InlineData("https://127.0.0.1/hook", "loopback, private or link-local")]
    [InlineData("https://[::1]/hook", "loopback, private or link-local")]
    [InlineData("https://10.1.2.3/hook", "loopback, private or link-local")]
    [InlineData("https://172.20.0.1/hook", "loopback, private or link-local")]
    [InlineData("https://192.168.1.10/hook", "loopback, private or link-local")]
    [InlineData("https://169.254.169.254/metadata", "loopback, private or link-local")]
    [InlineData("https://100.64.0.1/hook", "loopback, private or link-local")]
    [InlineData("https://[fd00::1]/hook", "loopback, private or link-local")]
    [InlineData("https://[fe80::1]/hook", "loopback, private or link-local")]
    [InlineData("https://[::ffff:10.0.0.1]/hook", "loopback, private or link-local")]
    public void OtherUrlsAreRefusedByName(string url, string reason) =>
        Assert.Contains(reason, Assert.Throws<HierDiffInputException>(() => Default.Check(url)).Message);

    [Fact]
    public void TheAllowListOpensNamedHostsOnly()
    {
        CallbackPolicy policy = CallbackPolicy.FromSetting("localhost, 10.0.0.5");
        Assert.NotNull(policy.Check("https://localhost:7071/hook"));
        Assert.NotNull(policy.Check("https://10.0.0.5/hook"));
        Assert.Throws<HierDiffInputException>(() => policy.Check("https://10.0.0.6/hook"));
        Assert.Throws<HierDiffInputException>(() => policy.Check("http://localhost/hook"));
    }

    [Theory]
    [InlineData("8.8.8.8", true)]
    [InlineData("20.50.2.1", true)]
    [InlineData("2606:4700::1111", true)]
    [InlineData("127.0.0.2", false)]
    [InlineData("0.0.0.0", false)]
    [InlineData("224.0.0.1", false)]
    [InlineData("198.18.0.1", false)]
    public void PublicAddressesAreTold(string address, bool expected) =>
        Assert.Equal(expected, CallbackPolicy.IsPublic(IPAddress.Parse(address)));

    [Fact]
    public async Task TheClientWillNotConnectToALoopbackAddressEvenBehindAName()
    {
        using HttpClient client = Default.CreateClient();
        var e = await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync("https://localhost:1/"));
        Assert.Contains("non-public", e.ToString());
    }
}
