using System.Buffers.Binary;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using HierDiff.Core;

namespace HierDiff.Functions;

/// <summary>
/// Which callback URLs a run may POST its result to: https only, and never to loopback, private, link-local,
/// reserved or other non-public addresses (the cloud metadata and Azure platform endpoints among them), whatever
/// IPv4 notation or IPv6 transition form names them, unless the host is on the allow-list setting. The check is
/// made again on the address actually connected to, so a name that resolves differently later (DNS rebinding)
/// gains nothing; callbacks never go through a proxy (HTTPS_PROXY and the like), whose address is all that check
/// would see.
/// </summary>
public sealed class CallbackPolicy(IReadOnlyCollection<string> allowedHosts)
{
    // Azure's platform address (DHCP, DNS, health probes, the VM agent): private in effect though outside 10/8.
    private static readonly IPAddress AzurePlatform = IPAddress.Parse("168.63.129.16");

    public static CallbackPolicy FromSetting(string? allowList) =>
        new((allowList ?? "").Split([',', ';', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    /// <summary>How long one POST may take (tests shorten it).</summary>
    internal TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Replaces the server certificate check (tests that run a local https server set it).</summary>
    internal RemoteCertificateValidationCallback? ServerCertificateCheck { get; init; }

    /// <summary>Refuses a URL that is not absolute https, or that names a non-public address or host.</summary>
    public Uri Check(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out Uri? uri) || uri.Scheme != Uri.UriSchemeHttps)
        {
            throw new HierDiffInputException($"callbackUrl '{url}' must be an absolute https URL");
        }

        if (!string.IsNullOrEmpty(uri.UserInfo))
        {
            throw new HierDiffInputException("callbackUrl must not carry credentials in the URL");
        }

        if (IsAllowed(uri.IdnHost))
        {
            return uri;
        }

        // System.Uri turns 2130706433, 0x7f.1 and 017700000001 into 127.0.0.1, but not with a trailing dot
        // ("127.0.0.1.", "LOCALHOST."): those stay DNS names, so parse them as the resolver would.
        string host = Normalize(uri.IdnHost);
        if (uri.IsLoopback || host == "localhost" || host.EndsWith(".localhost", StringComparison.Ordinal)
            || (IPAddress.TryParse(host, out IPAddress? literal) && !IsPublic(literal)))
        {
            throw new HierDiffInputException($"callbackUrl '{url}' points at a loopback, private, link-local or reserved address; add its host to HierDiff__CallbackAllowList to allow it");
        }

        return uri;
    }

    public bool IsAllowed(string host) => allowedHosts.Any(h => Normalize(h) == Normalize(host));

    /// <summary>Whether an address is on the public internet (not loopback, private, link-local, CGNAT, multicast,
    /// documentation, reserved, Azure's platform address, nor an IPv6 form that embeds a non-public IPv4 address).</summary>
    public static bool IsPublic(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            byte[] b = address.GetAddressBytes();
            return !(b[0] is 0 or 10 or 127 || b[0] >= 224
                || (b[0] == 172 && b[1] >= 16 && b[1] <= 31)
                || (b[0] == 192 && b[1] == 168)
                || (b[0] == 169 && b[1] == 254)
                || (b[0] == 100 && b[1] >= 64 && b[1] <= 127)
                || (b[0] == 192 && b[1] == 0 && b[2] is 0 or 2)
                || (b[0] == 198 && (b[1] == 18 || b[1] == 19))
                || (b[0] == 198 && b[1] == 51 && b[2] == 100)
                || (b[0] == 203 && b[1] == 0 && b[2] == 113)
                || address.Equals(AzurePlatform));
        }

        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return false;
        }

        byte[] v6 = address.GetAddressBytes();
        ushort first = BinaryPrimitives.ReadUInt16BigEndian(v6);
        ushort second = BinaryPrimitives.ReadUInt16BigEndian(v6.AsSpan(2));

        // NAT64's well-known prefix 64:ff9b::/96 reaches the IPv4 address in its last 32 bits: judge that one.
        if (first == 0x64 && second == 0xff9b && v6.AsSpan(4, 8).IndexOfAnyExcept((byte)0) < 0)
        {
            return IsPublic(new IPAddress(v6.AsSpan(12, 4)));
        }

        // 6to4 (2002::/16) tunnels to the IPv4 address in bits 16-47.
        if (first == 0x2002)
        {
            return IsPublic(new IPAddress(v6.AsSpan(2, 4)));
        }

        // Only global unicast (2000::/3) is public. That leaves out ::/8 (unspecified, loopback, IPv4-compatible
        // ::a.b.c.d, IPv4-translated ::ffff:0:a.b.c.d), 64:ff9b:1::/48 (local NAT64), 100::/64 (discard),
        // fc00::/7, fe80::/10 and ff00::/8. Inside it: Teredo 2001::/32 (tunnels to an IPv4 server and client)
        // and documentation 2001:db8::/32.
        return (first & 0xe000) == 0x2000
            && !(first == 0x2001 && second is 0x0000 or 0x0db8);
    }

    /// <summary>An HTTP client that refuses to connect to a non-public address unless the host is allow-listed,
    /// and never uses a proxy: the connection check must see the callback's own address.</summary>
    public HttpClient CreateClient() => new(CreateHandler()) { Timeout = Timeout };

    internal SocketsHttpHandler CreateHandler() => new()
    {
        AllowAutoRedirect = false,
        UseProxy = false,
        SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = ServerCertificateCheck },
        ConnectCallback = async (context, cancellation) =>
        {
            IPAddress[] addresses = await Dns.GetHostAddressesAsync(context.DnsEndPoint.Host, cancellation);
            IPAddress? target = addresses.FirstOrDefault(a => IsAllowed(context.DnsEndPoint.Host) || IsPublic(a))
                ?? throw new HttpRequestException($"callback host {context.DnsEndPoint.Host} resolves only to non-public addresses");
            var socket = new Socket(target.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(target, context.DnsEndPoint.Port), cancellation);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    };

    /// <summary>A host as DNS sees it: no brackets, no trailing root dot, lower case.</summary>
    private static string Normalize(string host)
    {
        host = host.Trim('[', ']');
        return (host.EndsWith('.') ? host[..^1] : host).ToLowerInvariant();
    }
}
