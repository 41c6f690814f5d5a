using Azure.Identity;
using Azure.Storage.Blobs;
using HierDiff.Functions;
using HierDiff.Models;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

IHost host = new HostBuilder()
    .ConfigureFunctionsWorkerDefaults()
    .ConfigureServices((context, services) =>
    {
        HierDiffSettings settings = HierDiffSettings.From(context.Configuration);
        services.AddSingleton(settings);
        services.AddSingleton(_ => StorageClient(context.Configuration));
        services.AddSingleton<IRunStore>(sp => new BlobRunStore(sp.GetRequiredService<BlobServiceClient>()));
        services.AddSingleton(sp => new RunActivities(
            sp.GetRequiredService<IRunStore>(),
            () => TextToImageModels.Shared(settings.ModelPath, settings.Device),
            settings.Pipeline));
        services.AddSingleton<RunStarter>();
    })
    .Build();
host.Run();

// A connection string where one is given (Azurite, local runs); otherwise the service URI with the app's identity.
static BlobServiceClient StorageClient(IConfiguration configuration)
{
    string? connection = configuration[HierDiffSettings.StorageConnection];
    if (!string.IsNullOrWhiteSpace(connection))
    {
        return new BlobServiceClient(connection);
    }

    string uri = configuration[$"{HierDiffSettings.StorageConnection}:serviceUri"]
        ?? throw new InvalidOperationException($"set {HierDiffSettings.StorageConnection} (a connection string) or {HierDiffSettings.StorageConnection}__serviceUri (managed identity)");
    return new BlobServiceClient(new Uri(uri), new DefaultAzureCredential());
}
