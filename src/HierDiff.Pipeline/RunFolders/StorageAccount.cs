using Azure;
using Azure.Core;
using Azure.Storage.Blobs;
using HierDiff.Core;

namespace HierDiff.Pipeline.RunFolders;

/// <summary>The blob storage account of <c>--storage</c>, checked before any work: a connection string that does
/// not parse, or an account that cannot be reached or refuses the key, is a one-line error naming the option.</summary>
internal static class StorageAccount
{
    public static BlobServiceClient Connect(string connection)
    {
        BlobServiceClient client;
        try
        {
            var options = new BlobClientOptions { Retry = { MaxRetries = 2, Mode = RetryMode.Fixed, Delay = TimeSpan.FromSeconds(1), NetworkTimeout = TimeSpan.FromSeconds(20) } };
            client = new BlobServiceClient(connection, options);
        }
        catch (Exception e) when (e is FormatException or ArgumentException or InvalidOperationException)
        {
            throw new HierDiffInputException($"--storage: not a storage connection string ({e.Message.ReplaceLineEndings(" ")})");
        }

        try
        {
            // Listing one container needs the account's address and key to be right, and nothing else.
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            _ = client.GetBlobContainers(cancellationToken: timeout.Token).AsPages(pageSizeHint: 1).GetEnumerator().MoveNext();
        }
        catch (Exception e) when (e is RequestFailedException or AggregateException or HttpRequestException or OperationCanceledException)
        {
            string reason = e is RequestFailedException r ? $"{r.Status} {r.ErrorCode}" : e.Message;
            throw new HierDiffInputException($"--storage: cannot reach the storage account at {client.Uri}: {reason.ReplaceLineEndings(" ")}");
        }

        return client;
    }
}
