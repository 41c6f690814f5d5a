using System.Globalization;
using HierDiff.Core.Prompts;
using HierDiff.Models;
using HierDiff.Models.Onnx;
using HierDiff.Pipeline.Activities;
using Microsoft.Extensions.Configuration;

namespace HierDiff.Functions;

/// <summary>
/// The app's settings (app settings in Azure, local.settings.json locally), all under <c>HierDiff__</c>:
/// ModelPath (default: the built-in model), Device (cpu, cuda, cuda:N), MaxPrompts, PricePerGpuSecond,
/// CallbackAllowList (hosts that may be non-public). Storage is the connection named <c>HierDiffStorage</c>: a
/// connection string, or <c>HierDiffStorage__serviceUri</c> with the app's managed identity (no account keys).
/// </summary>
public sealed record HierDiffSettings(string ModelPath, OnnxDevice Device, PipelineSettings Pipeline, CallbackPolicy Callbacks)
{
    public const string StorageConnection = "HierDiffStorage";

    public static HierDiffSettings From(IConfiguration configuration)
    {
        IConfigurationSection s = configuration.GetSection("HierDiff");
        int maxPrompts = int.TryParse(s["MaxPrompts"], NumberStyles.Integer, CultureInfo.InvariantCulture, out int m) ? m : PromptFileLimits.DefaultMaxPrompts;
        double price = double.TryParse(s["PricePerGpuSecond"], NumberStyles.Float, CultureInfo.InvariantCulture, out double p) ? p : 0;
        return new HierDiffSettings(
            string.IsNullOrWhiteSpace(s["ModelPath"]) ? BuiltInModel.Directory : s["ModelPath"]!,
            OnnxDevice.Parse(s["Device"] ?? "cpu"),
            new PipelineSettings { Limits = new PromptFileLimits { MaxPrompts = maxPrompts }, PricePerGpuSecond = price },
            CallbackPolicy.FromSetting(s["CallbackAllowList"]));
    }
}
