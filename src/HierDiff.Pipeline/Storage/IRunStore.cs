namespace HierDiff.Pipeline.Storage;

/// <summary>
/// Where a run keeps what does not belong in an orchestration's history: prompt files, plans, conditioning,
/// trajectories, images and manifests. Blob storage in Azure, a local folder on one machine. Names are checked by
/// <see cref="StoreNames"/> before they reach either, so a name from a user never escapes its container.
/// </summary>
public interface IRunStore
{
    Task WriteAsync(string container, string name, ReadOnlyMemory<byte> data, CancellationToken cancellation = default);

    /// <summary>The bytes, or null where there is no such blob.</summary>
    Task<byte[]?> ReadAsync(string container, string name, CancellationToken cancellation = default);

    /// <summary>A blob to read as it arrives (a prompt file, which may be larger than a worker should hold), or null
    /// where there is no such blob. The stream fails rather than mix two versions of a blob changed while it is read.</summary>
    Task<Stream?> OpenReadAsync(string container, string name, CancellationToken cancellation = default);

    /// <summary><paramref name="length"/> bytes of a blob from <paramref name="offset"/> (one prompt's encoding out of
    /// its chunk's); a missing blob, or one too short, is an error.</summary>
    Task<byte[]> ReadRangeAsync(string container, string name, long offset, int length, CancellationToken cancellation = default);

    /// <summary>A blob's version tag (its ETag in blob storage), or null where there is no such blob.</summary>
    Task<string?> TagAsync(string container, string name, CancellationToken cancellation = default);

    /// <summary>A blob's size and version tag, read without its content; null where there is no such blob.</summary>
    Task<StoredBlob?> PropertiesAsync(string container, string name, CancellationToken cancellation = default);
}

/// <summary>What a store knows about a blob without reading it: its size in bytes and its version tag.</summary>
public sealed record StoredBlob(long Size, string Tag);

/// <summary>The containers a run uses.</summary>
public static class Containers
{
    public const string Prompts = "prompts";
    public const string Images = "images";
    public const string Runs = "runs";

    /// <summary>tune.json files that HTTP requests name (options they take their savings target from); a container of
    /// their own, so uploading one starts no run.</summary>
    public const string Tunes = "tunes";

    public static readonly IReadOnlyList<string> All = [Prompts, Images, Runs, Tunes];
}
