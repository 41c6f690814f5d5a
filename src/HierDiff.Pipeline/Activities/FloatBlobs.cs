using System.Runtime.InteropServices;

namespace HierDiff.Pipeline.Activities;

/// <summary>float32 arrays as little-endian bytes, bit for bit.</summary>
internal static class FloatBlobs
{
    public static byte[] ToBytes(float[] values) => MemoryMarshal.AsBytes(values.AsSpan()).ToArray();

    public static float[] FromBytes(byte[] bytes) => MemoryMarshal.Cast<byte, float>(bytes.AsSpan()).ToArray();
}
