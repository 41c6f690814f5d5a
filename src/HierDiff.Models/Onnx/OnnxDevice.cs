using System.Globalization;
using HierDiff.Core;
using Microsoft.ML.OnnxRuntime;

namespace HierDiff.Models.Onnx;

/// <summary>Where the models run: <c>cpu</c>, or <c>cuda</c> / <c>cuda:N</c> with the CUDA build of ONNX Runtime.</summary>
public sealed record OnnxDevice(string Kind, int DeviceId)
{
    public static OnnxDevice Cpu { get; } = new("cpu", 0);

    public bool IsCuda => Kind == "cuda";

    public override string ToString() => IsCuda ? $"cuda:{DeviceId}" : "cpu";

    public static OnnxDevice Parse(string text)
    {
        string value = text.Trim().ToLowerInvariant();
        if (value == "cpu")
        {
            return Cpu;
        }

        if (value == "cuda")
        {
            return new OnnxDevice("cuda", 0);
        }

        if (value.StartsWith("cuda:", StringComparison.Ordinal)
            && int.TryParse(value["cuda:".Length..], NumberStyles.None, CultureInfo.InvariantCulture, out int id))
        {
            return new OnnxDevice("cuda", id);
        }

        throw new HierDiffInputException($"--device '{text}' is not a device; use cpu, cuda or cuda:N");
    }

    /// <summary>Session options for this device. Asking for CUDA where it cannot run is an error, never a silent
    /// fall-back to the CPU.</summary>
    internal SessionOptions CreateSessionOptions()
    {
        var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        if (!IsCuda)
        {
            return options;
        }

#if HIERDIFF_CUDA
        try
        {
            options.AppendExecutionProvider_CUDA(DeviceId);
            return options;
        }
        catch (Exception e) when (e is OnnxRuntimeException or DllNotFoundException or EntryPointNotFoundException)
        {
            options.Dispose();
            throw new HierDiffInputException(
                $"--device {this}: ONNX Runtime's CUDA provider cannot start ({FirstLine(e.Message)}); check the GPU, its driver and the CUDA 13 runtime libraries");
        }
#else
        options.Dispose();
        throw new HierDiffInputException(
            $"--device {this}: this build of HierDiff has the CPU build of ONNX Runtime; build with -p:HierDiffCuda=true for CUDA, or use --device cpu");
#endif
    }

    private static string FirstLine(string message) => message.Split('\n')[0].Trim();
}
