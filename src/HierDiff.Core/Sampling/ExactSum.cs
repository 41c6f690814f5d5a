using System.Runtime.InteropServices;

namespace HierDiff.Core.Sampling;

/// <summary>
/// The exact sum of float vectors, element by element. Each element is a fixed-point integer in units of 2^-149 (the
/// smallest float) held in nine 32-bit limbs, which cover every finite float, so adding never rounds: the sum of a
/// set of vectors is the same in any order and any grouping. A cluster's conditioning can then be summed from its
/// two children's sums, in whichever activities they were made, and its mean is still a function of its prompts
/// alone. Only <see cref="Mean"/> rounds, once.
/// </summary>
public sealed class ExactSum
{
    private const int Limbs = 9;
    private const int LimbBits = 32;

    // Element-major: element j's limbs, least significant first, at j * Limbs. A limb takes less than 2^32 a vector,
    // so up to 2^31 vectors fit a long without carrying.
    private readonly long[] _limbs;

    public ExactSum(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        Length = length;
        _limbs = new long[(long)length * Limbs];
    }

    public int Length { get; }

    /// <summary>How many vectors the sum holds.</summary>
    public long Count { get; private set; }

    /// <summary>Whether a vector added had an infinite or NaN element (its mean is then NaN, as a rounded sum's would be).</summary>
    public bool NonFinite { get; private set; }

    public void Clear()
    {
        Array.Clear(_limbs);
        Count = 0;
        NonFinite = false;
    }

    public void Add(ReadOnlySpan<float> vector)
    {
        if (vector.Length != Length)
        {
            throw new ArgumentException($"a vector of {vector.Length} elements added to a sum of {Length}", nameof(vector));
        }

        CountOne(1);
        Span<long> limbs = _limbs;
        for (int j = 0; j < vector.Length; j++)
        {
            uint bits = BitConverter.SingleToUInt32Bits(vector[j]);
            int exponent = (int)(bits >> 23) & 0xFF;
            if (exponent == 0xFF)
            {
                NonFinite = true;
                continue;
            }

            // value = mantissa * 2^shift units: normal floats carry their implicit bit and an exponent biased by one.
            ulong mantissa = bits & 0x7FFFFF;
            int shift = 0;
            if (exponent > 0)
            {
                mantissa |= 0x800000;
                shift = exponent - 1;
            }

            ulong shifted = mantissa << (shift % LimbBits);
            int at = (j * Limbs) + (shift / LimbBits);
            long low = (long)(shifted & uint.MaxValue);
            long high = (long)(shifted >> LimbBits);
            if ((bits & 0x8000_0000) == 0)
            {
                limbs[at] += low;
                limbs[at + 1] += high;
            }
            else
            {
                limbs[at] -= low;
                limbs[at + 1] -= high;
            }
        }
    }

    public void Add(ExactSum other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.Length != Length)
        {
            throw new ArgumentException($"a sum of {other.Length} elements added to a sum of {Length}", nameof(other));
        }

        CountOne(other.Count);
        NonFinite |= other.NonFinite;
        Span<long> limbs = _limbs;
        ReadOnlySpan<long> theirs = other._limbs;
        for (int i = 0; i < limbs.Length; i++)
        {
            limbs[i] += theirs[i];
        }
    }

    /// <summary>The element-wise mean, rounded once from the exact sum: one vector, or several equal ones, give that
    /// vector back bit for bit.</summary>
    public float[] Mean()
    {
        if (Count == 0)
        {
            throw new InvalidOperationException("the mean of no vectors");
        }

        var mean = new float[Length];
        if (NonFinite)
        {
            Array.Fill(mean, float.NaN);
            return mean;
        }

        Span<long> limbs = stackalloc long[Limbs];
        for (int j = 0; j < Length; j++)
        {
            _limbs.AsSpan(j * Limbs, Limbs).CopyTo(limbs);
            mean[j] = (float)(Value(limbs) / Count);
        }

        return mean;
    }

    /// <summary>The sum as bytes, for an activity that continues it (little-endian: length, count, non-finite, limbs).</summary>
    public byte[] ToBytes()
    {
        var bytes = new byte[13 + (_limbs.Length * sizeof(long))];
        BitConverter.TryWriteBytes(bytes.AsSpan(0), Length);
        BitConverter.TryWriteBytes(bytes.AsSpan(4), Count);
        bytes[12] = NonFinite ? (byte)1 : (byte)0;
        MemoryMarshal.AsBytes(_limbs.AsSpan()).CopyTo(bytes.AsSpan(13));
        return bytes;
    }

    /// <summary>Reads <see cref="ToBytes"/> into this sum, replacing what it held.</summary>
    public void Read(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != 13 + (_limbs.Length * sizeof(long)) || BitConverter.ToInt32(bytes) != Length)
        {
            throw new InvalidDataException($"not an exact sum of {Length} elements ({bytes.Length} bytes)");
        }

        Count = BitConverter.ToInt64(bytes[4..]);
        NonFinite = bytes[12] != 0;
        bytes[13..].CopyTo(MemoryMarshal.AsBytes(_limbs.AsSpan()));
    }

    private void CountOne(long vectors)
    {
        if (Count + vectors > int.MaxValue)
        {
            throw new InvalidOperationException($"an exact sum holds at most {int.MaxValue} vectors");
        }

        Count += vectors;
    }

    /// <summary>One element's limbs as a double: carries propagated, the sign taken out, then the top 96 bits
    /// (every float's 24 fit in them whole) converted; lower bits are dropped, the same way for every order.</summary>
    private static double Value(Span<long> limbs)
    {
        Carry(limbs);
        bool negative = limbs[Limbs - 1] < 0;
        if (negative)
        {
            for (int i = 0; i < Limbs; i++)
            {
                limbs[i] = -limbs[i];
            }

            Carry(limbs);
        }

        int top = Limbs - 1;
        while (top >= 0 && limbs[top] == 0)
        {
            top--;
        }

        if (top < 0)
        {
            return 0;
        }

        int bottom = Math.Max(0, top - 2);
        UInt128 window = 0;
        for (int i = top; i >= bottom; i--)
        {
            window = (window << LimbBits) | (ulong)limbs[i];
        }

        double magnitude = Math.ScaleB((double)window, (bottom * LimbBits) - 149);
        return negative ? -magnitude : magnitude;
    }

    /// <summary>Leaves limbs 0..7 in [0, 2^32) and the sign in the top limb.</summary>
    private static void Carry(Span<long> limbs)
    {
        for (int i = 0; i < Limbs - 1; i++)
        {
            long carry = limbs[i] >> LimbBits;
            limbs[i] -= carry << LimbBits;
            limbs[i + 1] += carry;
        }
    }
}
