namespace HierDiff.Pipeline.Storage;

/// <summary>A store in a local folder: ROOT/container/name. Writes go to a temporary file first, so a reader never
/// sees half a blob.</summary>
public sealed class LocalRunStore(string root) : IRunStore
{
    public string Root { get; } = Path.GetFullPath(root);

    public async Task WriteAsync(string container, string name, ReadOnlyMemory<byte> data, CancellationToken cancellation = default)
    {
        string path = PathOf(container, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        string temp = $"{path}.{Guid.NewGuid():N}.tmp";
        await File.WriteAllBytesAsync(temp, data.ToArray(), cancellation);
        File.Move(temp, path, overwrite: true);
    }

    public async Task<byte[]?> ReadAsync(string container, string name, CancellationToken cancellation = default)
    {
        string path = PathOf(container, name);
        return File.Exists(path) ? await File.ReadAllBytesAsync(path, cancellation) : null;
    }

    public Task<Stream?> OpenReadAsync(string container, string name, CancellationToken cancellation = default)
    {
        // Writes replace a file whole (a rename), so an open stream keeps reading the version it opened.
        string path = PathOf(container, name);
        return Task.FromResult<Stream?>(File.Exists(path) ? new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1 << 16) : null);
    }

    public async Task<byte[]> ReadRangeAsync(string container, string name, long offset, int length, CancellationToken cancellation = default)
    {
        await using var file = new FileStream(PathOf(container, name), FileMode.Open, FileAccess.Read, FileShare.Read, 1, useAsync: true);
        var bytes = new byte[length];
        file.Seek(offset, SeekOrigin.Begin);
        await file.ReadExactlyAsync(bytes, cancellation);
        return bytes;
    }

    public async Task<string?> TagAsync(string container, string name, CancellationToken cancellation = default) =>
        (await PropertiesAsync(container, name, cancellation))?.Tag;

    public Task<StoredBlob?> PropertiesAsync(string container, string name, CancellationToken cancellation = default)
    {
        var file = new FileInfo(PathOf(container, name));
        return Task.FromResult(file.Exists ? new StoredBlob(file.Length, $"{file.Length:x}-{file.LastWriteTimeUtc.Ticks:x}") : null);
    }

    private string PathOf(string container, string name)
    {
        StoreNames.Check(container, "container");
        string path = Path.GetFullPath(Path.Combine(Root, container, StoreNames.Check(name)));

        // StoreNames already rules out '..'; this guards the invariant itself.
        return path.StartsWith(Path.Combine(Root, container) + Path.DirectorySeparatorChar, StringComparison.Ordinal)
            ? path
            : throw new InvalidOperationException($"'{name}' resolves outside {container}");
    }
}
