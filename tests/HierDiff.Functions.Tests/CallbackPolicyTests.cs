using System.Net;
using System.Net.Sockets;
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
    [InlineData("https://localhost/hook", "loopback, private, link-local or reserved")]
    [InlineData("https://api.localhost/hook", "loopback, private, link-local or reserved")]
    [InlineData("https://127.0.0.1/hook", "loopback, private, link-local or reserved")]
    [InlineData("https://[::1]/hook", "loopback, private, link-local or reserved")]
    [InlineData("https://10.1.2.3/hook", "loopback, private, link-local or reserved")]
    [InlineData("https://172.20.0.1/hook", "loopback, private, link-local or reserved")]
    [InlineData("https://192.168.1.10/hook", "loopback, private, link-local or reserved")]
    [InlineData("https://169.254.169.254/metadata", "loopback, private, link-local or reserved")]
    [InlineData("https://100.64.0.1/hook", "loopback, private, link-local or reserved")]
    [InlineData("https://[fd00::1]/hook", "loopback, private, link-local or reserved")]
    [InlineData("https://[fe80::1]/hook", "loopback, private, link-local or reserved")]
    [InlineData("https://[::ffff:10.0.0.1]/hook", "loopback, private, link-local or reserved")]
    [InlineData("https://2130706433/hook", "loopback, private, link-local or reserved")]
    [InlineData("https://0x7f.1/hook", "loopback, private, link-local or reserved")]
    [InlineData("https://017700000001/hook", "loopback, private, link-local or reserved")]
    public void OtherUrlsAreRefusedByName(string url, string reason) =>
        Assert.Contains(reason, Assert.Throws<HierDiffInputException>(() => Default.Check(url)).Message);

    /// <summary>Each of these got through before: IPv6 transition forms that carry a private or metadata IPv4
    /// address, Azure's platform address, reserved and documentation ranges, and names with a trailing root dot
    /// (which System.Uri leaves as DNS names, unlike the same numbers without the dot).</summary>
    [Theory]
    [InlineData("https://[64:ff9b::a9fe:a9fe]/metadata")] // NAT64 well-known prefix, 169.254.169.254
    [InlineData("https://[64:ff9b::10.0.0.1]/hook")] // NAT64, written with the IPv4 part
    [InlineData("https://[64:ff9b:1::a00:1]/hook")] // local-use NAT64
    [InlineData("https://[2002:a9fe:a9fe::]/metadata")] // 6to4 of 169.254.169.254
    [InlineData("https://[2002:7f00:1::1]/hook")] // 6to4 of 127.0.0.1
    [InlineData("https://[::127.0.0.1]/hook")] // IPv4-compatible
    [InlineData("https://[::a9fe:a9fe]/metadata")] // IPv4-compatible, hex
    [InlineData("https://[::ffff:0:a9fe:a9fe]/metadata")] // IPv4-translated
    [InlineData("https://[2001:0:a9fe:a9fe::1]/hook")] // Teredo
    [InlineData("https://[2001:db8::1]/hook")] // documentation
    [InlineData("https://[100::1]/hook")] // discard-only
    [InlineData("https://168.63.129.16/machine")] // Azure platform (wire server)
    [InlineData("https://192.0.2.10/hook")] // TEST-NET-1
    [InlineData("https://198.51.100.10/hook")] // TEST-NET-2
    [InlineData("https://203.0.113.10/hook")] // TEST-NET-3
    [InlineData("https://LOCALHOST./hook")]
    [InlineData("https://localhost./hook")]
    [InlineData("https://api.LocalHost./hook")]
    [InlineData("https://127.0.0.1./hook")]
    [InlineData("https://0x7f.1./hook")]
    [InlineData("https://2130706433./hook")]
    [InlineData("https://169.254.169.254./metadata")]
    public void TransitionFormsReservedRangesAndTrailingDotsAreRefused(string url) =>
        Assert.Contains("loopback, private, link-local or reserved", Assert.Throws<HierDiffInputException>(() => Default.Check(url)).Message);

    [Theory]
    [InlineData("https://[64:ff9b::808:808]/hook")] // NAT64 to 8.8.8.8
    [InlineData("https://[2002:808:808::1]/hook")] // 6to4 of 8.8.8.8
    [InlineData("https://[2606:4700::1111]/hook")]
    [InlineData("https://example.com./hook")]
    public void TransitionFormsOfPublicAddressesAndRootedNamesStillPass(string url) => Assert.NotNull(Default.Check(url));

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
    [InlineData("240.0.0.1", false)]
    [InlineData("255.255.255.255", false)]
    [InlineData("::", false)]
    [InlineData("::1", false)]
    [InlineData("64:ff9b::a00:1", false)]
    [InlineData("64:ff9b::808:808", true)]
    [InlineData("2001:4860:4860::8888", true)]
    [InlineData("2001::1", false)]
    [InlineData("::ffff:0:808:808", false)]
    public void PublicAddressesAreTold(string address, bool expected) =>
        Assert.Equal(expected, CallbackPolicy.IsPublic(IPAddress.Parse(address)));

    [Fact]
    public void TheAppsCallbackRetriesWaitLongerEachTimeUpToTwoMinutes() =>
        Assert.Equal(
            [10, 20, 40, 80, 120],
            Enumerable.Range(1, CallbackRetry.Default.MaxAttempts - 1).Select(a => CallbackRetry.Default.DelayAfter(a).TotalSeconds));

    [Fact]
    public void AnAllowListedHostMatchesWithATrailingDotAndAnyCase()
    {
        CallbackPolicy policy = CallbackPolicy.FromSetting("hooks.internal.example");
        Assert.True(policy.IsAllowed("HOOKS.internal.example."));
        Assert.False(policy.IsAllowed("hooks.internal.example.evil"));
    }

    [Fact]
    public async Task TheClientWillNotConnectToALoopbackAddressEvenBehindAName()
    {
        using HttpClient client = Default.CreateClient();
        var e = await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync("https://localhost:1/"));
        Assert.Contains("non-public", e.ToString());
    }
}

/// <summary>Tests that set the process-wide default proxy (what HTTPS_PROXY and the like configure): alone, so no
/// other test's HTTP traffic goes through it.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class DefaultProxyCollection
{
    public const string Name = "default proxy";
}

[Collection(DefaultProxyCollection.Name)]
public sealed class DefaultProxyTests
{
    [Fact]
    public async Task WithAProxyConfiguredCallbacksBypassItSoTheConnectionCheckSeesTheTarget()
    {
        // A "proxy" on loopback, which the allow-list opens: were the callback sent through it, the connection check
        // would see only 127.0.0.1 (allowed) and never the private target behind it.
        using var proxy = new TcpListener(IPAddress.Loopback, 0);
        proxy.Start();
        int connections = 0;
        Task accepting = Task.Run(async () =>
        {
            while (true)
            {
                using TcpClient client = await proxy.AcceptTcpClientAsync();
                Interlocked.Increment(ref connections);
            }
        });

        IWebProxy saved = HttpClient.DefaultProxy;
        HttpClient.DefaultProxy = new WebProxy($"http://127.0.0.1:{((IPEndPoint)proxy.LocalEndpoint).Port}");
        try
        {
            using HttpClient client = CallbackPolicy.FromSetting("127.0.0.1").CreateClient();
            var e = await Assert.ThrowsAsync<HttpRequestException>(() => client.PostAsync("https://10.255.255.1:9/hook", new StringContent("{}")));
            Assert.Contains("non-public", e.ToString());
            Assert.Equal(0, Volatile.Read(ref connections));
        }
        finally
        {
            HttpClient.DefaultProxy = saved;
            proxy.Stop();
        }

        await Assert.ThrowsAnyAsync<Exception>(() => accepting);
    }
}
