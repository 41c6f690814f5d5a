using System.Runtime.CompilerServices;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace HierDiff.Models.Onnx;

/// <summary>
/// A tensor in the element type a model declares (float32, float16, int32 or int64), allocated once and reused
/// call after call; values go in and out as float or long, converted at the boundary.
/// </summary>
internal sealed class ModelTensor : IDisposable
{
    private readonly float[]? _float32;
    private readonly Float16[]? _float16;
    private readonly int[]? _int32;
    private readonly long[]? _int64;

    public ModelTensor(TensorElementType type, long[] shape)
    {
        Type = type;
        Shape = shape;
        long count = shape.Aggregate(1L, (a, b) => a * b);
        Length = checked((int)count);
        Value = type switch
        {
            TensorElementType.Float => OrtValue.CreateTensorValueFromMemory(_float32 = new float[Length], shape),
            TensorElementType.Float16 => OrtValue.CreateTensorValueFromMemory(_float16 = new Float16[Length], shape),
            TensorElementType.Int32 => OrtValue.CreateTensorValueFromMemory(_int32 = new int[Length], shape),
            TensorElementType.Int64 => OrtValue.CreateTensorValueFromMemory(_int64 = new long[Length], shape),
            _ => throw new NotSupportedException($"tensor element type {type}"),
        };
    }

    public TensorElementType Type { get; }

    public long[] Shape { get; }

    public int Length { get; }

    public OrtValue Value { get; }

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
            default:
                _int64![index] = checked((long)value);
                break;
        }
    }

    public void Dispose() => Value.Dispose();
}
