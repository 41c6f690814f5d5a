using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace HierDiff.Functions.Tests;

/// <summary>
/// A callback receiver on https://127.0.0.1 (Kestrel, a self-signed certificate): answers each POST with the next
/// status of a script (the last one repeats), or, for status 0, not at all. Records the bodies it got.
/// </summary>
internal sealed class CallbackServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly X509Certificate2 _certificate;
    private readonly int[] _script;
    private readonly List<JsonElement> _bodies = [];

    private CallbackServer(WebApplication app, X509Certificate2 certificate, int[] script)
    {
        _app = app;
        _certificate = certificate;
        _script = script;
    }

    public string Url { get; private set; } = "";

    public IReadOnlyList<JsonElement> Bodies
    {
        get
        {
            lock (_bodies)
            {
                return [.. _bodies];
            }
        }
    }

    /// <summary>A callback policy that allows this server's address and trusts its certificate only.</summary>
    public CallbackPolicy Policy(TimeSpan? timeout = null) => new(["127.0.0.1"])
    {
        Timeout = timeout ?? TimeSpan.FromSeconds(30),
        ServerCertificateCheck = (_, certificate, _, _) => certificate?.GetCertHashString() == _certificate.GetCertHashString(),
    };

    public static async Task<CallbackServer> StartAsync(params int[] script)
    {
        using RSA key = RSA.Create(2048);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        using X509Certificate2 created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        X509Certificate2 certificate = X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pkcs12), null);

        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, listen => listen.UseHttps(certificate)));
        WebApplication app = builder.Build();
        var server = new CallbackServer(app, certificate, script);
        app.MapPost("/hook", server.HandleAsync);
        await app.StartAsync();
        server.Url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single() + "/hook";
        return server;
    }

    private async Task HandleAsync(HttpContext context)
    {
        JsonElement body = await JsonSerializer.DeserializeAsync<JsonElement>(context.Request.Body);
        int status;
        lock (_bodies)
        {
            _bodies.Add(body);
            status = _script[Math.Min(_bodies.Count, _script.Length) - 1];
        }

        if (status == 0)
        {
            // Never answers: the client's timeout ends the attempt.
            await Task.Delay(Timeout.Infinite, context.RequestAborted).ContinueWith(_ => { });
            return;
        }

        context.Response.StatusCode = status;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _certificate.Dispose();
    }
}
