using System.Runtime.InteropServices;

namespace HierDiff.Pipeline.Activities;

/// <summary>float32 arrays as little-endian bytes, bit for bit.</summary>
internal static class FloatBlobs
{
    public static byte[] ToBytes(float[] values) => MemoryMarshal.AsBytes(values.AsSpan()).ToArray();

    public static float[] FromBytes(byte[] bytes) => MemoryMarshal.Cast<byte, float>(bytes.AsSpan()).ToArray();

    /// <summary>Vectors one after another (a chunk of prompts' encodings).</summary>
    public static byte[] Concatenate(IReadOnlyList<float[]> vectors)
    {
        var bytes = new byte[vectors.Sum(v => (long)v.Length) * sizeof(float)];
        int at = 0;
        foreach (float[] v in vectors)
        {
            MemoryMarshal.AsBytes(v.AsSpan()).CopyTo(bytes.AsSpan(at));
            at += v.Length * sizeof(float);
        }

        return bytes;
    }
}
