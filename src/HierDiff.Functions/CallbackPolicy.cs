using System.Net;
using System.Net.Sockets;
using HierDiff.Core;

namespace HierDiff.Functions;

/// <summary>
/// Which callback URLs a run may POST its result to: https only, and never to loopback, private, link-local or
/// other non-public addresses (the cloud metadata endpoint among them) unless the host is on the allow-list
/// setting. The check is made on the address actually connected to, so a name that resolves differently later
/// (DNS rebinding) gains nothing.
/// </summary>
public sealed class CallbackPolicy(IReadOnlyCollection<string> allowedHosts)
{
    public static CallbackPolicy FromSetting(string? allowList) =>
        new((allowList ?? "").Split([',', ';', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

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

        if (uri.IsLoopback || uri.IdnHost.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase)
            || (IPAddress.TryParse(uri.IdnHost.Trim('[', ']'), out IPAddress? literal) && !IsPublic(literal)))
        {
            throw new HierDiffInputException($"callbackUrl '{url}' points at a loopback, private or link-local address; add its host to HierDiff__CallbackAllowList to allow it");
        }

        return uri;
    }

    public bool IsAllowed(string host) => allowedHosts.Any(h => string.Equals(h, host, StringComparison.OrdinalIgnoreCase));

    /// <summary>Whether an address is on the public internet (not loopback, private, link-local, CGNAT, multicast...).</summary>
    public static bool IsPublic(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (IPAddress.IsLoopback(address) || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any) || address.Equals(IPAddress.Broadcast))
        {
            return false;
        }

        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            byte[] b = address.GetAddressBytes();
            return !(b[0] == 10 || b[0] == 0 || b[0] >= 224
                || (b[0] == 172 && b[1] >= 16 && b[1] <= 31)
                || (b[0] == 192 && b[1] == 168)
                || (b[0] == 169 && b[1] == 254)
                || (b[0] == 100 && b[1] >= 64 && b[1] <= 127)
                || (b[0] == 192 && b[1] == 0 && b[2] == 0)
                || (b[0] == 198 && (b[1] == 18 || b[1] == 19)));
        }

        return !(address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6UniqueLocal || address.IsIPv6Multicast);
    }

    /// <summary>An HTTP client that refuses to connect to a non-public address unless the host is allow-listed.</summary>
    public HttpClient CreateClient() => new(new SocketsHttpHandler
    {
        AllowAutoRedirect = false,
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
    })
    { Timeout = TimeSpan.FromSeconds(30) };
}
