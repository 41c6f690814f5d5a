using System.Buffers;
using System.Text.Unicode;

namespace HierDiff.Core.Prompts;

/// <summary>
/// A prompt file's content read from a stream one chunk at a time, so that a file of a million prompts never sits in
/// memory whole. Every chunk is checked as it arrives, before anyone parses it: the first one for a byte-order mark
/// (skipped), an empty file, the size limit and UTF-16 text; each one for NUL bytes and invalid UTF-8. A file no larger
/// than one chunk is therefore checked whole before it is parsed, as it always was.
/// </summary>
/// <remarks>
/// Offsets and lines in messages count from the first byte after the byte-order mark, lines by '\n'. A chunk ends on a
/// whole UTF-8 character: the bytes of one split by the end of a chunk wait for the next.
/// </remarks>
internal sealed class PromptFileChunks(Stream stream, string source, long maxBytes)
{
    /// <summary>How many bytes are read from the stream at a time: the memory the reader needs beside its parse.</summary>
    public const int ChunkBytes = 64 * 1024;

    /// <summary>The most bytes of one UTF-8 character that can wait for the next chunk.</summary>
    private const int MaxCarriedBytes = 3;

    private readonly byte[] _bytes = new byte[MaxCarriedBytes + ChunkBytes];
    private readonly char[] _chars = new char[MaxCarriedBytes + ChunkBytes];
    private int _bytesLength;
    private int _charsLength;
    private int _carried;
    private bool _started;
    private bool _ended;
    private long _offset;
    private int _line = 1;
    private long _contentRead;

    /// <summary>The current chunk's bytes: whole UTF-8 characters, checked.</summary>
    public ReadOnlySpan<byte> Bytes => _bytes.AsSpan(0, _bytesLength);

    /// <summary>The current chunk's text: the same characters as <see cref="Bytes"/>, decoded.</summary>
    public ReadOnlySpan<char> Chars => _chars.AsSpan(0, _charsLength);

    /// <summary>Reads and checks the next chunk; false at the end of the file.</summary>
    public bool MoveNext()
    {
        if (_ended)
        {
            return false;
        }

        // The bytes of a character that the last chunk ended inside go first.
        _bytes.AsSpan(_bytesLength, _carried).CopyTo(_bytes);
        bool first = !_started;
        _started = true;
        long? size = first && stream.CanSeek ? stream.Length - stream.Position : null;
        int read = ReadFully(stream, _bytes.AsSpan(_carried, ChunkBytes));
        bool final = read < ChunkBytes;
        int length = _carried + read;
        if (first && _bytes.AsSpan(0, length).StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
        {
            _bytes.AsSpan(3, length - 3).CopyTo(_bytes);
            length -= 3;
            read -= 3;
            size -= 3;
        }

        Span<byte> data = _bytes.AsSpan(0, length);
        if (first)
        {
            CheckSize(data, size);
        }

        _contentRead += read;
        if (_contentRead > maxBytes)
        {
            throw PromptFileReader.TooLarge(source, null, maxBytes);
        }

        if (first && Utf16(data) is string encoding)
        {
            throw new HierDiffInputException($"{source}:1: the file is {encoding} text; save it as UTF-8");
        }

        int nul = data.IndexOf((byte)0);
        if (nul >= 0)
        {
            throw new HierDiffInputException($"{source}:{LineAt(data, nul)}: NUL byte (is this a binary file?)");
        }

        OperationStatus status = Utf8.ToUtf16(data, _chars, out int decoded, out _charsLength, replaceInvalidSequences: false, isFinalBlock: final);
        if (status == OperationStatus.InvalidData)
        {
            throw new HierDiffInputException(
                $"{source}:{LineAt(data, decoded)}: invalid UTF-8 (byte 0x{data[decoded]:X2} at offset {_offset + decoded})");
        }

        // What is left (NeedMoreData) is the start of a character that the next chunk completes.
        _bytesLength = decoded;
        _carried = length - decoded;
        _offset += decoded;
        _line += Bytes.Count((byte)'\n');
        _ended = final;
        return decoded > 0 || !final;
    }

    /// <summary>The first chunk's checks before its text: an empty file, and a stream whose length (after the
    /// byte-order mark) is known to pass the limit, refused naming its size.</summary>
    private void CheckSize(ReadOnlySpan<byte> content, long? size)
    {
        if (content.IsEmpty)
        {
            throw new HierDiffInputException($"{source}:1: the prompt file is empty");
        }

        if (size > maxBytes)
        {
            throw PromptFileReader.TooLarge(source, size, maxBytes);
        }
    }

    /// <summary>"UTF-16 (little-endian)" and so on where the bytes are UTF-16: a byte-order mark, or ASCII text
    /// with a zero byte beside every character, which is what such files mostly hold.</summary>
    private static string? Utf16(ReadOnlySpan<byte> bytes)
    {
        if (bytes.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xFE]))
        {
            return "UTF-16 (little-endian, with a byte-order mark)";
        }

        if (bytes.StartsWith((ReadOnlySpan<byte>)[0xFE, 0xFF]))
        {
            return "UTF-16 (big-endian, with a byte-order mark)";
        }

        if (bytes.Length < 4)
        {
            return null;
        }

        ReadOnlySpan<byte> head = bytes[..Math.Min(bytes.Length & ~1, 256)];
        bool evenZero = true, oddZero = true;
        for (int i = 0; i < head.Length; i += 2)
        {
            evenZero &= head[i] == 0 && head[i + 1] != 0;
            oddZero &= head[i + 1] == 0 && head[i] != 0;
        }

        return oddZero ? "UTF-16 (little-endian)" : evenZero ? "UTF-16 (big-endian)" : null;
    }

    private int LineAt(ReadOnlySpan<byte> chunk, int index) => _line + chunk[..index].Count((byte)'\n');

    /// <summary>Fills <paramref name="buffer"/> unless the stream ends first, however few bytes each read hands out,
    /// so that where the chunks end depends on the file alone.</summary>
    private static int ReadFully(Stream stream, Span<byte> buffer)
    {
        int total = 0;
        int read;
        while (total < buffer.Length && (read = stream.Read(buffer[total..])) > 0)
        {
            total += read;
        }

        return total;
    }

    /// <summary>The file's text, a chunk at a time: what the line and CSV readers read.</summary>
    public sealed class Text(PromptFileChunks chunks) : TextReader
    {
        private int _position;

        public override int Peek() => Available() ? chunks._chars[_position] : -1;

        public override int Read() => Available() ? chunks._chars[_position++] : -1;

        /// <summary>The characters read from the file and not yet taken (none at its end), to scan in one go;
        /// <see cref="Skip"/> takes them.</summary>
        public ReadOnlySpan<char> Buffered() => Available() ? chunks.Chars[_position..] : default;

        public void Skip(int count) => _position += count;

        private bool Available()
        {
            while (_position == chunks._charsLength)
            {
                if (!chunks.MoveNext())
                {
                    return false;
                }

                _position = 0;
            }

            return true;
        }
    }
}
