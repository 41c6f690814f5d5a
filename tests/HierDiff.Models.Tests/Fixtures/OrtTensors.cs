using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace HierDiff.Models.Tests.Fixtures;

/// <summary>A tensor read back from ONNX Runtime as float32 values and its shape.</summary>
internal sealed record TensorResult(float[] Values, long[] Shape);

/// <summary>Makes ONNX Runtime inputs of whatever element type the session declares, and reads outputs as floats.</summary>
internal static class OrtTensors
{
    public static OrtValue Floats(InferenceSession session, string input, float[] values, params long[] shape) =>
        session.InputMetadata[input].ElementDataType switch
        {
            TensorElementType.Float => OrtValue.CreateTensorValueFromMemory(values, shape),
            TensorElementType.Float16 => OrtValue.CreateTensorValueFromMemory(values.Select(v => (Float16)v).ToArray(), shape),
            TensorElementType.Int64 => OrtValue.CreateTensorValueFromMemory(values.Select(v => (long)v).ToArray(), shape),
            TensorElementType.Int32 => OrtValue.CreateTensorValueFromMemory(values.Select(v => (int)v).ToArray(), shape),
            var other => throw new InvalidOperationException($"Input '{input}' has element type {other}."),
        };

    public static OrtValue Integers(InferenceSession session, string input, long[] values, params long[] shape) =>
        session.InputMetadata[input].ElementDataType switch
        {
            TensorElementType.Int64 => OrtValue.CreateTensorValueFromMemory(values, shape),
            TensorElementType.Int32 => OrtValue.CreateTensorValueFromMemory(values.Select(v => checked((int)v)).ToArray(), shape),
            var other => throw new InvalidOperationException($"Input '{input}' has element type {other}."),
        };

    /// <summary>Runs the session on all its outputs; disposes the inputs.</summary>
    public static Dictionary<string, TensorResult> Run(InferenceSession session, IReadOnlyDictionary<string, OrtValue> inputs)
    {
        try
        {
            using var options = new RunOptions();
            var names = session.OutputMetadata.Keys.ToArray();
            using var outputs = session.Run(options, inputs, names);
            var results = new Dictionary<string, TensorResult>();
            for (var i = 0; i < names.Length; i++)
            {
                results[names[i]] = Read(outputs[i]);
            }

            return results;
        }
        finally
        {
            foreach (var value in inputs.Values)
            {
                value.Dispose();
            }
        }
    }

    public static TensorResult Read(OrtValue value)
    {
        var info = value.GetTensorTypeAndShape();
        var values = info.ElementDataType switch
        {
            TensorElementType.Float => value.GetTensorDataAsSpan<float>().ToArray(),
            TensorElementType.Float16 => value.GetTensorDataAsSpan<Float16>().ToArray().Select(v => (float)v).ToArray(),
            var other => throw new InvalidOperationException($"Output has element type {other}."),
        };
        return new TensorResult(values, info.Shape);
    }

    public static float[] Gaussian(Random random, int count)
    {
        var values = new float[count];
        for (var i = 0; i < count; i++)
        {
            var u = 1.0 - random.NextDouble();
            values[i] = (float)(Math.Sqrt(-2 * Math.Log(u)) * Math.Cos(2 * Math.PI * random.NextDouble()));
        }

        return values;
    }

    public static double MaxAbsDifference(float[] a, float[] b) =>
        a.Zip(b, (x, y) => Math.Abs((double)x - y)).DefaultIfEmpty(0).Max();
}
