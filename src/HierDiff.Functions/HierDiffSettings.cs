using System.Globalization;
using HierDiff.Core.Prompts;
using HierDiff.Models;
using HierDiff.Models.Onnx;
using Microsoft.Extensions.Configuration;

namespace HierDiff.Functions;

/// <summary>
/// The app's settings (app settings in Azure, local.settings.json locally), all under <c>HierDiff__</c>:
/// ModelPath (default: the built-in model), Device (cpu, cuda, cuda:N), MaxPrompts, MaxPromptLength, MaxPromptFileBytes
/// (the prompt limits: <see cref="PromptFileLimits"/>), PricePerGpuSecond, MaxSubtreeCalls
/// (subtrees of at most this many denoiser calls run whole in one activity; 0: one activity per segment batch),
/// CallbackAllowList (hosts that may be non-public). Storage is the connection named <c>HierDiffStorage</c>: a
/// connection string, or <c>HierDiffStorage__serviceUri</c> with the app's managed identity (no account keys).
/// </summary>
public sealed record HierDiffSettings(string ModelPath, OnnxDevice Device, PipelineSettings Pipeline, CallbackPolicy Callbacks)
{
    public const string StorageConnection = "HierDiffStorage";

    public static HierDiffSettings From(IConfiguration configuration)
    {
        IConfigurationSection s = configuration.GetSection("HierDiff");
        double price = Number(s, "PricePerGpuSecond", 0, integer: false);
        int subtreeCalls = (int)Number(s, "MaxSubtreeCalls", PipelineSettings.DefaultMaxSubtreeCalls, integer: true);
        return new HierDiffSettings(
            string.IsNullOrWhiteSpace(s["ModelPath"]) ? BuiltInModel.Directory : s["ModelPath"]!,
            OnnxDevice.Parse(s["Device"] ?? "cpu"),
            new PipelineSettings { Limits = Limits(s), PricePerGpuSecond = price, MaxSubtreeCalls = subtreeCalls },
            CallbackPolicy.FromSetting(s["CallbackAllowList"]));
    }

    private static PromptFileLimits Limits(IConfigurationSection section)
    {
        try
        {
            return PromptFileLimits.FromSettings(name => section[name]);
        }
        catch (HierDiff.Core.HierDiffInputException e)
        {
            throw new InvalidOperationException($"app setting {e.Message}");
        }
    }

    /// <summary>A non-negative number setting, or its default where unset; anything else stops the app with the
    /// setting's name rather than running with a value nobody chose.</summary>
    private static double Number(IConfigurationSection section, string name, double fallback, bool integer)
    {
        string? text = section[name];
        if (string.IsNullOrWhiteSpace(text))
        {
            return fallback;
        }

        double value = double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ? v : double.NaN;
        bool ok = value >= 0 && double.IsFinite(value) && (!integer || (value == Math.Floor(value) && value <= int.MaxValue));
        return ok ? value : throw new InvalidOperationException($"app setting HierDiff__{name} is '{text}': expected a non-negative {(integer ? "whole number" : "number")}");
    }
}
