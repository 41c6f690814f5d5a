using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace HierDiff.Core.Schedulers;

/// <summary>
/// Little-endian framing shared by <see cref="SchedulerState"/> and <see cref="Trajectory"/>:
/// a 4-byte magic, a 16-bit version, the body, and a 64-bit FNV-1a checksum of everything before it,
/// so that truncated or damaged bytes are refused instead of resuming from garbage.
/// </summary>
internal static class BinaryCodec
{
    private const int HeaderSize = 6;
    private const int ChecksumSize = 8;

    /// <summary>Checks magic, version and checksum; returns the body.</summary>
    public static ReadOnlySpan<byte> OpenFrame(ReadOnlySpan<byte> bytes, string magic, ushort version, string what)
    {
        ushort found = ReadVersion(bytes, magic, what);
        if (found != version)
        {
            throw new InvalidDataException($"{what} format version {found} is not supported; this build reads version {version}.");
        }

        return CheckedBody(bytes, what);
    }

    /// <summary>Checks the length and the magic; returns the format version, for readers of more than one.</summary>
    public static ushort ReadVersion(ReadOnlySpan<byte> bytes, string magic, string what)
    {
        if (bytes.Length < HeaderSize + ChecksumSize)
        {
            throw new InvalidDataException($"{what} bytes are truncated: {bytes.Length} bytes is shorter than any {what}.");
        }

        if (!bytes[..4].SequenceEqual(Encoding.ASCII.GetBytes(magic)))
        {
            throw new InvalidDataException($"These bytes are not a {what}: the header is not '{magic}'.");
        }

        return BinaryPrimitives.ReadUInt16LittleEndian(bytes[4..]);
    }

    /// <summary>Checks the checksum; returns the body (after magic and version).</summary>
    public static ReadOnlySpan<byte> CheckedBody(ReadOnlySpan<byte> bytes, string what)
    {
        int bodyEnd = bytes.Length - ChecksumSize;
        ulong expected = BinaryPrimitives.ReadUInt64LittleEndian(bytes[bodyEnd..]);
        if (Fnv1a(bytes[..bodyEnd]) != expected)
        {
            throw new InvalidDataException($"{what} bytes are truncated or damaged: the checksum does not match.");
        }

        return bytes[HeaderSize..bodyEnd];
    }

    public static ulong Fnv1a(ReadOnlySpan<byte> bytes)
    {
        ulong hash = 14695981039346656037UL;
        foreach (byte b in bytes)
        {
            hash = (hash ^ b) * 1099511628211UL;
        }

        return hash;
    }

    /// <summary>Builds one frame.</summary>
    public sealed class Writer
    {
        private byte[] buffer = new byte[256];
        private int length;

        public Writer(string magic, ushort version)
        {
            Append(Encoding.ASCII.GetBytes(magic));
            WriteUInt16(version);
        }

        public void WriteUInt16(ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(Reserve(2), value);

        public void WriteInt32(int value) => BinaryPrimitives.WriteInt32LittleEndian(Reserve(4), value);

        /// <summary>The double's exact bits.</summary>
        public void WriteDouble(double value) => BinaryPrimitives.WriteDoubleLittleEndian(Reserve(8), value);

        public void WriteString(string value)
        {
            byte[] utf8 = Encoding.UTF8.GetBytes(value);
            WriteInt32(utf8.Length);
            Append(utf8);
        }

        /// <summary>A length and the floats' exact bits.</summary>
        public void WriteFloats(ReadOnlySpan<float> values)
        {
            WriteInt32(values.Length);
            var destination = Reserve(checked(values.Length * 4));
            if (BitConverter.IsLittleEndian)
            {
                MemoryMarshal.AsBytes(values).CopyTo(destination);
                return;
            }

            for (int i = 0; i < values.Length; i++)
            {
                BinaryPrimitives.WriteSingleLittleEndian(destination[(i * 4)..], values[i]);
            }
        }

        public void WriteBytes(ReadOnlySpan<byte> value)
        {
            WriteInt32(value.Length);
            Append(value);
        }

        /// <summary>Appends the checksum and returns the frame.</summary>
        public byte[] Finish()
        {
            ulong checksum = Fnv1a(buffer.AsSpan(0, length));
            BinaryPrimitives.WriteUInt64LittleEndian(Reserve(ChecksumSize), checksum);
            return buffer.AsSpan(0, length).ToArray();
        }

        private void Append(ReadOnlySpan<byte> bytes) => bytes.CopyTo(Reserve(bytes.Length));

        private Span<byte> Reserve(int count)
        {
            int needed = checked(length + count);
            if (needed > buffer.Length)
            {
                Array.Resize(ref buffer, Math.Max(needed, checked(buffer.Length * 2)));
            }

            var span = buffer.AsSpan(length, count);
            length = needed;
            return span;
        }
    }

    /// <summary>Reads a frame's body; every read is bounds-checked.</summary>
    public ref struct Reader
    {
        private readonly ReadOnlySpan<byte> body;
        private readonly string what;
        private int position;

        public Reader(ReadOnlySpan<byte> body, string what)
        {
            this.body = body;
            this.what = what;
        }

        public int ReadInt32(string field) => BinaryPrimitives.ReadInt32LittleEndian(Take(4, field));

        public int ReadCount(string field)
        {
            int value = ReadInt32(field);
            if (value < 0)
            {
                throw new InvalidDataException($"{what} is damaged: {field} is {value}.");
            }

            return value;
        }

        public double ReadDouble(string field) => BinaryPrimitives.ReadDoubleLittleEndian(Take(8, field));

        public string ReadString(string field) => Encoding.UTF8.GetString(Take(ReadCount(field), field));

        public float[] ReadFloats(string field)
        {
            int count = ReadCount(field);
            if (count > (body.Length - position) / 4)
            {
                throw Truncated(field);
            }

            var source = Take(count * 4, field);
            var values = new float[count];
            if (BitConverter.IsLittleEndian)
            {
                source.CopyTo(MemoryMarshal.AsBytes(values.AsSpan()));
                return values;
            }

            for (int i = 0; i < count; i++)
            {
                values[i] = BinaryPrimitives.ReadSingleLittleEndian(source[(i * 4)..]);
            }

            return values;
        }

        public ReadOnlySpan<byte> ReadBytes(string field) => Take(ReadCount(field), field);

        /// <summary>Refuses bytes left over after the last field.</summary>
        public readonly void EnsureEnd()
        {
            if (position != body.Length)
            {
                throw new InvalidDataException($"{what} is damaged: {body.Length - position} unexpected bytes after the last field.");
            }
        }

        private ReadOnlySpan<byte> Take(int count, string field)
        {
            if (count > body.Length - position)
            {
                throw Truncated(field);
            }

            var span = body.Slice(position, count);
            position += count;
            return span;
        }

        private readonly InvalidDataException Truncated(string field) =>
            new($"{what} is truncated: {field} runs past the end of the bytes.");
    }
}
