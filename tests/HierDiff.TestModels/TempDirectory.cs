namespace HierDiff.TestModels;

/// <summary>A fresh folder under the system temp folder, deleted with everything in it on dispose.</summary>
public sealed class TempDirectory : IDisposable
{
    /// <param name="prefix">The start of the folder's name (the rest is random), so that a folder left behind names
    /// the tests that made it.</param>
    public TempDirectory(string prefix = "hierdiff-test-")
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), prefix + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string Sub(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A session that still holds a file open on some platform; the temp folder is cleaned up eventually.
        }
        catch (UnauthorizedAccessException)
        {
            // As above.
        }
    }
}
