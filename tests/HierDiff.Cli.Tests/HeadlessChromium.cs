using System.Diagnostics;
using System.Text.RegularExpressions;

namespace HierDiff.Cli.Tests;

/// <summary>
/// Opens a page in Debian's headless Chromium and returns the DOM after its scripts ran. Pages of hierdiff report
/// opened with #selftest expand everything, wait for their images and write what they saw into &lt;body&gt;.
/// Chromium is required, not optional: CI (.ci/run) installs it, so a missing one fails with how to install it.
/// </summary>
internal static partial class HeadlessChromium
{
    public static string DumpDom(string url)
    {
        string profile = Path.Combine(Path.GetTempPath(), "hierdiff-chromium-" + Guid.NewGuid().ToString("N"));
        var start = new ProcessStartInfo("chromium")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in new[] { "--headless", "--no-sandbox", "--disable-gpu", $"--user-data-dir={profile}", "--virtual-time-budget=5000", "--dump-dom", url })
        {
            start.ArgumentList.Add(arg);
        }

        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            throw new InvalidOperationException("chromium is not on PATH; these tests need it: apt-get install -y chromium (.ci/run does)");
        }

        try
        {
            using (process)
            {
                Task<string> stdout = process.StandardOutput.ReadToEndAsync();
                Task<string> stderr = process.StandardError.ReadToEndAsync();
                if (!process.WaitForExit(TimeSpan.FromSeconds(120)))
                {
                    process.Kill(entireProcessTree: true);
                    throw new TimeoutException($"chromium did not finish with {url} in 120 s");
                }

                Assert.True(process.ExitCode == 0, $"chromium exited with {process.ExitCode}: {stderr.Result}");
                return stdout.Result;
            }
        }
        finally
        {
            Directory.Delete(profile, recursive: true);
        }
    }

    /// <summary>The data-* attributes of &lt;body&gt; in a dumped DOM, by name without "data-".</summary>
    public static Dictionary<string, string> BodyData(string dom)
    {
        Match body = BodyTag().Match(dom);
        Assert.True(body.Success, "no <body> in the dumped DOM");
        return DataAttribute().Matches(body.Value).ToDictionary(m => m.Groups[1].Value, m => System.Net.WebUtility.HtmlDecode(m.Groups[2].Value));
    }

    /// <summary>Opens report.html with #selftest and checks the page ran without errors and showed every image;
    /// returns the dumped DOM and the number of images.</summary>
    public static (string Dom, int Images) OpenReport(string reportPath)
    {
        string dom = DumpDom(new Uri(reportPath).AbsoluteUri + "#selftest");
        Dictionary<string, string> data = BodyData(dom);
        Assert.True(data.GetValueOrDefault("selftest") == "done", "the page's script did not finish: " + string.Join(", ", data));
        Assert.Equal("", data["errors"]);
        int thumbs = int.Parse(data["thumbs"], System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal($"{thumbs}/{thumbs}", data["images"]);
        return (dom, thumbs);
    }

    [GeneratedRegex("<body[^>]*>")]
    private static partial Regex BodyTag();

    [GeneratedRegex("data-([a-z-]+)=\"([^\"]*)\"")]
    private static partial Regex DataAttribute();
}
