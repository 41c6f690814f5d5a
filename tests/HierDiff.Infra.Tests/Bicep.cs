using System.Diagnostics;
using System.Reflection;
using System.Text.Json.Nodes;

namespace HierDiff.Infra.Tests;

/// <summary>The Bicep CLI from the Azure.Bicep.CommandLine.linux-x64 package, and the repository's templates.</summary>
public static class Bicep
{
    public static string RepositoryRoot { get; } = Metadata("RepositoryRoot");

    public static string InfraDirectory { get; } = Path.Combine(RepositoryRoot, "infra");

    private static readonly string BinaryPath = Metadata("BicepPath");

    private static readonly Dictionary<string, JsonObject> Compiled = [];

    /// <summary>Every .bicep file under infra/, relative to it.</summary>
    public static IEnumerable<string> TemplateFiles() =>
        Directory.EnumerateFiles(InfraDirectory, "*.bicep", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(InfraDirectory, f))
            .Order(StringComparer.Ordinal);

    /// <summary>Runs bicep; returns its exit code and what it wrote to stdout and stderr.</summary>
    public static (int ExitCode, string Stdout, string Stderr) Run(params string[] arguments)
    {
        EnsureExecutable();
        var start = new ProcessStartInfo(BinaryPath)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = InfraDirectory,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        // Offline: no telemetry, no registry restores.
        start.Environment["BICEP_TRACING_ENABLED"] = "false";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"bicep {string.Join(' ', arguments)} took over 3 minutes");
        }

        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>The ARM JSON of a template (path relative to infra/), compiled once per test run.</summary>
    public static JsonObject Build(string template)
    {
        lock (Compiled)
        {
            if (!Compiled.TryGetValue(template, out JsonObject? json))
            {
                (int code, string stdout, string stderr) = Run("build", template, "--stdout");
                Assert.True(code == 0, $"bicep build {template} failed:\n{stderr}");
                json = JsonNode.Parse(stdout)!.AsObject();
                Compiled[template] = json;
            }

            return json;
        }
    }

    private static void EnsureExecutable()
    {
        Assert.True(File.Exists(BinaryPath), $"no bicep binary at {BinaryPath}: restore the test project");
        // The package is the linux-x64 build: these tests run on Linux.
        Assert.True(OperatingSystem.IsLinux(), "the Bicep package referenced here is the linux-x64 build");
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        UnixFileMode mode = File.GetUnixFileMode(BinaryPath);
        if (!mode.HasFlag(UnixFileMode.UserExecute))
        {
            // NuGet does not always keep the executable bit when it extracts a package.
            File.SetUnixFileMode(BinaryPath, mode | UnixFileMode.UserExecute);
        }
    }

    private static string Metadata(string key) =>
        typeof(Bicep).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value
        ?? throw new InvalidOperationException($"assembly metadata {key} is empty");
}
