using System.Diagnostics;

namespace HierDiff.Cli.Tests;

/// <summary>Runs the real <c>hierdiff</c> program (built next to the tests) as a user would, in its own process.</summary>
internal static class CliRunner
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    public static string Data(string name) => Path.Combine(AppContext.BaseDirectory, "TestData", name);

    public static Result Run(params string[] args) => RunIn(null, null, args);

    /// <summary>Runs in <paramref name="workingDirectory"/>, with <paramref name="environment"/> added to ours.</summary>
    public static Result RunIn(string? workingDirectory, IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        using Process process = Start(workingDirectory, environment, args);
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        return new Result(process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Starts the program and returns at once (to signal or kill it); its output is redirected.</summary>
    public static Process Start(string? workingDirectory, IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        SignalsAsAtATerminal.Ensure();
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "hierdiff.dll"));
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach ((string name, string value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        return Process.Start(start)!;
    }

    /// <summary>Sends a POSIX signal (INT, TERM, KILL) to a process, as a terminal or a service manager would.</summary>
    public static void Signal(Process process, string signal)
    {
        using Process kill = Process.Start("kill", ["-" + signal, process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
        kill.WaitForExit();
    }
}

/// <summary>
/// A shell starts background jobs with SIGINT ignored, and an ignored signal stays ignored across exec: a test run
/// launched in the background (as CI may launch it) would start the program deaf to Ctrl-C, and .NET rightly keeps
/// it so. The programs these tests start should see SIGINT as a user at a terminal delivers it, so where this test
/// process ignores it (Linux's /proc/self/status, SigIgn bit 2), its default is restored before any is started.
/// </summary>
internal static class SignalsAsAtATerminal
{
    private const int SigInt = 2;
    private static readonly Lazy<bool> Done = new(Restore);

    public static void Ensure() => _ = Done.Value;

    private static bool Restore()
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        string? ignored = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal));
        if (ignored is null || (Convert.ToUInt64(ignored["SigIgn:".Length..].Trim(), 16) & (1UL << (SigInt - 1))) == 0)
        {
            return false;
        }

        Signal(SigInt, IntPtr.Zero);
        return true;
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "signal")]
    private static extern IntPtr Signal(int signal, IntPtr handler);
}
