using System.Collections.Concurrent;
using Azure;
using Azure.Storage.Blobs;

namespace HierDiff.Pipeline.Storage;

/// <summary>A store in Azure Blob Storage (or Azurite): one blob container per <see cref="Containers"/> name.</summary>
public sealed class BlobRunStore(BlobServiceClient service) : IRunStore
{
    // Containers this store has made sure exist: one round trip per container, not one per write.
    private readonly ConcurrentDictionary<string, Task> _created = new(StringComparer.Ordinal);

    public async Task WriteAsync(string container, string name, ReadOnlyMemory<byte> data, CancellationToken cancellation = default)
    {
        BlobContainerClient client = service.GetBlobContainerClient(StoreNames.Check(container, "container"));
        BlobClient blob = client.GetBlobClient(StoreNames.Check(name));
        await EnsureContainerAsync(client);
        try
        {
            await blob.UploadAsync(new BinaryData(data), overwrite: true, cancellation);
        }
        catch (RequestFailedException e) when (e.ErrorCode == "ContainerNotFound")
        {
            // Deleted since this store made it: make it again, once.
            _created.TryRemove(container, out _);
            await EnsureContainerAsync(client);
            await blob.UploadAsync(new BinaryData(data), overwrite: true, cancellation);
        }
    }

    private async Task EnsureContainerAsync(BlobContainerClient client)
    {
        Task created = _created.GetOrAdd(client.Name, _ => client.CreateIfNotExistsAsync());
        try
        {
            await created;
        }
        catch
        {
            _created.TryRemove(new KeyValuePair<string, Task>(client.Name, created));
            throw;
        }
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

    public async Task<Stream?> OpenReadAsync(string container, string name, CancellationToken cancellation = default)
    {
        try
        {
            BlobClient blob = service.GetBlobContainerClient(StoreNames.Check(container, "container")).GetBlobClient(StoreNames.Check(name));

            // allowModifications: false pins the blob's ETag, so a blob replaced mid-read fails the read.
            return await blob.OpenReadAsync(new Azure.Storage.Blobs.Models.BlobOpenReadOptions(allowModifications: false), cancellation);
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return null;
        }
    }

    public async Task<byte[]> ReadRangeAsync(string container, string name, long offset, int length, CancellationToken cancellation = default)
    {
        BlobClient blob = service.GetBlobContainerClient(StoreNames.Check(container, "container")).GetBlobClient(StoreNames.Check(name));
        var range = new Azure.Storage.Blobs.Models.BlobDownloadOptions { Range = new HttpRange(offset, length) };
        byte[] bytes = (await blob.DownloadContentAsync(range, cancellation)).Value.Content.ToArray();
        return bytes.Length == length ? bytes : throw new EndOfStreamException($"{container}/{name} has no {length} bytes at {offset}");
    }

    public async Task<string?> TagAsync(string container, string name, CancellationToken cancellation = default) =>
        (await PropertiesAsync(container, name, cancellation))?.Tag;

    public async Task<StoredBlob?> PropertiesAsync(string container, string name, CancellationToken cancellation = default)
    {
        try
        {
            BlobClient blob = service.GetBlobContainerClient(StoreNames.Check(container, "container")).GetBlobClient(StoreNames.Check(name));
            Azure.Storage.Blobs.Models.BlobProperties properties = (await blob.GetPropertiesAsync(cancellationToken: cancellation)).Value;
            return new StoredBlob(properties.ContentLength, properties.ETag.ToString());
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return null;
        }
    }
}
