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
    private readonly float[]? _float32;
    private readonly Float16[]? _float16;
    private readonly int[]? _int32;
    private readonly long[]? _int64;
    private readonly bool[]? _bool;
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
        switch (type)
        {
            case TensorElementType.Float:
                _float32 = new float[capacity];
                break;
            case TensorElementType.Float16:
                _float16 = new Float16[capacity];
                break;
            case TensorElementType.Int32:
                _int32 = new int[capacity];
                break;
            case TensorElementType.Int64:
                _int64 = new long[capacity];
                break;
            case TensorElementType.Bool:
                _bool = new bool[capacity];
                break;
            default:
                throw new NotSupportedException($"tensor element type {type}");
        }

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
        view = Type switch
        {
            TensorElementType.Float => OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _float32.AsMemory(0, n), shape),
            TensorElementType.Float16 => OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _float16.AsMemory(0, n), shape),
            TensorElementType.Int32 => OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _int32.AsMemory(0, n), shape),
            TensorElementType.Bool => OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _bool.AsMemory(0, n), shape),
            _ => OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _int64.AsMemory(0, n), shape),
        };
        _views[key] = view;
        return view;
    }

    public void WriteFloats(int offset, ReadOnlySpan<float> values)
    {
        if (_float32 is not null)
        {
            values.CopyTo(_float32.AsSpan(offset));
            return;
        }

        Float16[] target = _float16 ?? throw new InvalidOperationException($"a {Type} tensor does not hold floats");
        for (int i = 0; i < values.Length; i++)
        {
            target[offset + i] = Unsafe.BitCast<Half, Float16>((Half)values[i]);
        }
    }

    public void ReadFloats(int offset, Span<float> destination)
    {
        if (_float32 is not null)
        {
            _float32.AsSpan(offset, destination.Length).CopyTo(destination);
            return;
        }

        Float16[] source = _float16 ?? throw new InvalidOperationException($"a {Type} tensor does not hold floats");
        for (int i = 0; i < destination.Length; i++)
        {
            destination[i] = (float)Unsafe.BitCast<Float16, Half>(source[offset + i]);
        }
    }

    /// <summary>Writes a number in the tensor's own type (a timestep, a token id).</summary>
    public void Write(int index, double value)
    {
        switch (Type)
        {
            case TensorElementType.Float:
                _float32![index] = (float)value;
                break;
            case TensorElementType.Float16:
                _float16![index] = Unsafe.BitCast<Half, Float16>((Half)value);
                break;
            case TensorElementType.Int32:
                _int32![index] = checked((int)value);
                break;
            case TensorElementType.Bool:
                // An attention mask: any non-zero value is true.
                _bool![index] = value != 0;
                break;
            default:
                _int64![index] = checked((long)value);
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
