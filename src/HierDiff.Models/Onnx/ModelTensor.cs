using System.Runtime.CompilerServices;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace HierDiff.Models.Onnx;

/// <summary>
/// A tensor in the element type a model declares (float32, float16, int32 or int64), allocated once and reused
/// call after call; values go in and out as float or double, converted at the boundary. Its buffer can hold more
/// than the current shape: <see cref="View"/> gives an OrtValue over the first part, so a smaller batch reuses the
/// memory of a larger one instead of allocating its own.
/// </summary>
internal sealed class ModelTensor : IDisposable
{
    // A float[], Float16[], int[], long[] or bool[], as Type says.
    private readonly Array _buffer;
    private readonly Dictionary<string, OrtValue> _views = [];

    public ModelTensor(TensorElementType type, long[] shape)
        : this(type, checked((int)shape.Aggregate(1L, (a, b) => a * b)))
    {
        Value = View(shape);
    }

    /// <summary>A buffer of <paramref name="capacity"/> elements, used through <see cref="View"/>.</summary>
    public ModelTensor(TensorElementType type, int capacity)
    {
        Type = type;
        Capacity = capacity;
        _buffer = type switch
        {
            TensorElementType.Float => new float[capacity],
            TensorElementType.Float16 => new Float16[capacity],
            TensorElementType.Int32 => new int[capacity],
            TensorElementType.Int64 => new long[capacity],
            TensorElementType.Bool => new bool[capacity],
            _ => throw new NotSupportedException($"tensor element type {type}"),
        };

        Value = null!;
    }

    public TensorElementType Type { get; }

    public int Capacity { get; }

    /// <summary>The whole tensor, for tensors made with a shape.</summary>
    public OrtValue Value { get; }

    /// <summary>An OrtValue of the given shape over the start of the buffer (made once per shape).</summary>
    public OrtValue View(long[] shape)
    {
        string key = string.Join(',', shape);
        if (_views.TryGetValue(key, out OrtValue? view))
        {
            return view;
        }

        long count = shape.Aggregate(1L, (a, b) => a * b);
        if (count > Capacity)
        {
            throw new ArgumentOutOfRangeException(nameof(shape), $"shape [{key}] needs {count} elements; the buffer holds {Capacity}");
        }

        int n = (int)count;
        view = _buffer switch
        {
            float[] float32 => OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, float32.AsMemory(0, n), shape),
            Float16[] float16 => OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, float16.AsMemory(0, n), shape),
            int[] int32 => OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, int32.AsMemory(0, n), shape),
            bool[] flags => OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, flags.AsMemory(0, n), shape),
            _ => OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, ((long[])_buffer).AsMemory(0, n), shape),
        };
        _views[key] = view;
        return view;
    }

    public void WriteFloats(int offset, ReadOnlySpan<float> values)
    {
        if (_buffer is float[] float32)
        {
            values.CopyTo(float32.AsSpan(offset));
            return;
        }

        Float16[] target = _buffer as Float16[] ?? throw new InvalidOperationException($"a {Type} tensor does not hold floats");
        for (int i = 0; i < values.Length; i++)
        {
            target[offset + i] = Unsafe.BitCast<Half, Float16>((Half)values[i]);
        }
    }

    public void ReadFloats(int offset, Span<float> destination)
    {
        if (_buffer is float[] float32)
        {
            float32.AsSpan(offset, destination.Length).CopyTo(destination);
            return;
        }

        Float16[] source = _buffer as Float16[] ?? throw new InvalidOperationException($"a {Type} tensor does not hold floats");
        for (int i = 0; i < destination.Length; i++)
        {
            destination[i] = (float)Unsafe.BitCast<Float16, Half>(source[offset + i]);
        }
    }

    /// <summary>Writes a number in the tensor's own type (a timestep, a token id).</summary>
    public void Write(int index, double value)
    {
        switch (_buffer)
        {
            case float[] float32:
                float32[index] = (float)value;
                break;
            case Float16[] float16:
                float16[index] = Unsafe.BitCast<Half, Float16>((Half)value);
                break;
            case int[] int32:
                int32[index] = checked((int)value);
                break;
            case bool[] flags:
                // An attention mask: any non-zero value is true.
                flags[index] = value != 0;
                break;
            default:
                ((long[])_buffer)[index] = checked((long)value);
                break;
        }
    }

    public void Dispose()
    {
        foreach (OrtValue view in _views.Values)
        {
            view.Dispose();
        }
    }
}
