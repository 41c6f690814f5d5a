using Azure;
using Azure.Storage.Blobs;

namespace HierDiff.Pipeline.Storage;

/// <summary>A store in Azure Blob Storage (or Azurite): one blob container per <see cref="Containers"/> name.</summary>
public sealed class BlobRunStore(BlobServiceClient service) : IRunStore
{
    public async Task WriteAsync(string container, string name, ReadOnlyMemory<byte> data, CancellationToken cancellation = default)
    {
        BlobContainerClient client = service.GetBlobContainerClient(StoreNames.Check(container, "container"));
        await client.CreateIfNotExistsAsync(cancellationToken: cancellation);
        await client.GetBlobClient(StoreNames.Check(name)).UploadAsync(new BinaryData(data), overwrite: true, cancellation);
    }

    public async Task<byte[]?> ReadAsync(string container, string name, CancellationToken cancellation = default)
    {
        try
        {
            BlobClient blob = service.GetBlobContainerClient(StoreNames.Check(container, "container")).GetBlobClient(StoreNames.Check(name));
            return (await blob.DownloadContentAsync(cancellation)).Value.Content.ToArray();
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return null;
        }
    }

    public async Task<string?> TagAsync(string container, string name, CancellationToken cancellation = default)
    {
        try
        {
            BlobClient blob = service.GetBlobContainerClient(StoreNames.Check(container, "container")).GetBlobClient(StoreNames.Check(name));
            return (await blob.GetPropertiesAsync(cancellationToken: cancellation)).Value.ETag.ToString();
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return null;
        }
    }
}
