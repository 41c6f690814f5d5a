using System.Text;
using HierDiff.Core.Prompts;

namespace HierDiff.Core.Tests.Prompts;

/// <summary>
/// <see cref="PromptFileReader.Stream"/>: the same prompts and the same refusals as <see cref="PromptFileReader.Parse"/>
/// however the stream hands out its bytes, read no further ahead than a chunk.
/// </summary>
public class PromptFileStreamTests
{
    private static readonly PromptFileLimits Roomy = new() { MaxPrompts = int.MaxValue, MaxPromptLength = 1_000_000 };

    private static List<Prompt> Streamed(byte[] bytes, string name, int readSize, PromptFileLimits? limits = null) =>
        [.. PromptFileReader.Stream(new TrickleStream(bytes, readSize), name, limits)];

    private static string RefusedStreaming(byte[] bytes, string name, int readSize, PromptFileLimits? limits = null) =>
        Assert.Throws<HierDiffInputException>(() => Streamed(bytes, name, readSize, limits)).Message;

    private static string RefusedParsing(byte[] bytes, string name, PromptFileLimits? limits = null) =>
        Assert.Throws<HierDiffInputException>(() => PromptFileReader.Parse(bytes, name, limits)).Message;

    /// <summary>Files of each format with what makes reading in pieces hard: characters of several bytes, CRLF, CSV
    /// quoted newlines and doubled quotes, JSON escapes, a JSON element larger than the reader's first window.</summary>
    public static TheoryData<string, string, string[], int[]> Files()
    {
        string large = string.Concat(Enumerable.Repeat("é😀 \\\"big\\\" \\u00e9 ", 3000)); // 60 KB of JSON string
        string largeText = string.Concat(Enumerable.Repeat("é😀 \"big\" é ", 3000));
        return new()
        {
            { "p.txt", "\uFEFFun cercle rouge é\r\n\r\n  日本の四角  \n😀 smile\r\nlast", ["un cercle rouge é", "日本の四角", "😀 smile", "last"], [1, 3, 4, 5] },
            { "p.jsonl", "\"é 😀\"\r\n\r\n{\"id\": 1, \"prompt\": \"a \\\"tiger\\\" \\ud83d\\ude00\"}\r\n", ["é 😀", "a \"tiger\" 😀"], [1, 3] },
            { "p.csv", "id,prompt\r\n1,\"un cercle, é\"\r\n2,\"say \"\"hi\"\"\r\nplease 😀\"\r\n3,plain\r\n", ["un cercle, é", "say \"hi\"\r\nplease 😀", "plain"], [2, 3, 5] },
            { "p.json", "[\n \"a \\\"lion\\\" \\u00e9\\n\",\n /* a comment */ {\"id\": 7, \"prompt\": \"日本 😀\", \"tags\": [1, {\"x\": 2}]}\n]\n", ["a \"lion\" é", "日本 😀"], [2, 3] },
            { "p.json", $"[\"first\",\n{{\"skip\": \"{large}\", \"prompt\": \"{large}\"}},\n\"after\"]", ["first", largeText.Trim(), "after"], [1, 2, 3] },
        };
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void EachFormatReadsTheSameWhateverEachReadHandsOut(string name, string text, string[] texts, int[] lines)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        foreach (int readSize in (int[])[1, 7, int.MaxValue])
        {
            List<Prompt> prompts = Streamed(bytes, name, readSize, Roomy);
            Assert.Equal(texts, prompts.Select(p => p.Text));
            Assert.Equal(lines, prompts.Select(p => p.Line));
            Assert.Equal(PromptFileReader.Parse(bytes, name, Roomy).Prompts, prompts);
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void AMultiByteCharacterSplitAcrossChunksIsRead(int bytesBeforeTheBoundary)
    {
        // Lines of 100 'a's fill the first chunk up to a four-byte character that straddles its end.
        var text = new StringBuilder();
        while (text.Length + 101 <= PromptFileChunks.ChunkBytes - bytesBeforeTheBoundary - 101)
        {
            text.Append('a', 100).Append('\n');
        }

        text.Append('b', PromptFileChunks.ChunkBytes - bytesBeforeTheBoundary - text.Length).Append("😀 after\n");
        byte[] bytes = Encoding.UTF8.GetBytes(text.ToString());
        Assert.Equal((byte)0xF0, bytes[PromptFileChunks.ChunkBytes - bytesBeforeTheBoundary]);

        foreach (int readSize in (int[])[1, 7, int.MaxValue])
        {
            Assert.EndsWith("😀 after", Streamed(bytes, "p.txt", readSize)[^1].Text);
        }
    }

    /// <summary>Refusals with what they name, each the same through one-byte reads as through Parse.</summary>
    public static TheoryData<string, byte[], int, string> Refusals()
    {
        byte[] lines = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, 20_000).Select(i => $"prompt {i:D6}\n"))); // 14 bytes a line
        byte[] jsonElements = Encoding.UTF8.GetBytes("[\n" + string.Concat(Enumerable.Range(0, 6000).Select(i => $"\"prompt {i:D6}\",\n")) + "7,\n\"x\"]");
        byte[] jsonBroken = Encoding.UTF8.GetBytes("[\n" + string.Concat(Enumerable.Range(0, 6000).Select(i => $"\"prompt {i:D6}\",\n")) + "\"x\" \"y\"]");
        return new()
        {
            { "p.txt", [.. "ok\nfine\n"u8, 0xC3, 0x28, .. "\n"u8], 0, "p.txt:3: invalid UTF-8 (byte 0xC3 at offset 8)" },
            { "p.txt", [0xEF, 0xBB, 0xBF, .. "ok\n"u8, 0xE2, 0x82], 0, "p.txt:2: invalid UTF-8 (byte 0xE2 at offset 3)" },
            { "p.txt", [.. lines, 0xE2, 0x82, .. "A\n"u8], Roomy.MaxPrompts, "p.txt:20001: invalid UTF-8 (byte 0xE2 at offset 280000)" },
            { "p.txt", [.. lines.AsSpan(0, PromptFileChunks.ChunkBytes - 1), 0xE2, 0x82, .. "A\n"u8], Roomy.MaxPrompts, "p.txt:4682: invalid UTF-8 (byte 0xE2 at offset 65535)" },
            { "p.txt", [.. "a\r\nb\nc"u8, 0, .. "d\n"u8], 0, "p.txt:3: NUL byte (is this a binary file?)" },
            { "p.txt", [.. lines, 0], Roomy.MaxPrompts, "p.txt:20001: NUL byte (is this a binary file?)" },
            { "p.csv", "prompt\na\n\"open\nand\nnever closed\n"u8.ToArray(), 0, "p.csv:3: a quoted field is never closed" },
            { "p.json", "[\"a\",\n\"b\"\n\n"u8.ToArray(), 0, "p.json:4: invalid JSON: Expected depth to be zero at the end of the JSON payload. There is an open JSON object or array that should be closed." },
            { "p.json", jsonElements, Roomy.MaxPrompts, "p.json:6002: element 6000 is a number; expected a string or an object with a \"prompt\" field" },
            { "p.json", jsonBroken, Roomy.MaxPrompts, "p.json:6002: invalid JSON: '\"' is invalid after a value. Expected either ',', '}', or ']'." },
            { "p.txt", lines, 0, "p.txt:10001: more than 10000 prompts; the limit is 10000 (the setting HierDiff__MaxPrompts); split the file or raise the limit" },
            { "p.jsonl", "\"a\"\n\"b\"\r\n\"c\"\n"u8.ToArray(), 2, "p.jsonl:3: more than 2 prompts; the limit is 2 (the setting HierDiff__MaxPrompts); split the file or raise the limit" },
            { "p.txt", [0xEF, 0xBB, 0xBF, .. lines], -1000, "p.txt: the prompt file is 280,000 bytes; the limit is 1,000 bytes (the setting HierDiff__MaxPromptFileBytes)" },
            { "p.txt", Encoding.Unicode.GetBytes("a red circle\n"), 0, "p.txt:1: the file is UTF-16 (little-endian) text; save it as UTF-8" },
            { "p.txt", [0xEF, 0xBB, 0xBF], 0, "p.txt:1: the prompt file is empty" },
            { "p.csv", "prompt\n \n\n"u8.ToArray(), 0, "p.csv:1: no prompts in the file" },
        };
    }

    [Theory]
    [MemberData(nameof(Refusals))]
    public void RefusalsAreTheSameThroughOneByteReadsAsThroughParse(string name, byte[] bytes, int maxPrompts, string expected)
    {
        // maxPrompts: 0 the default limits, below 0 a byte limit of that size, above 0 that many prompts.
        PromptFileLimits? limits = maxPrompts switch
        {
            0 => null,
            < 0 => new PromptFileLimits { MaxFileBytes = -maxPrompts },
            _ => new PromptFileLimits { MaxPrompts = maxPrompts },
        };
        Assert.Equal(expected, RefusedParsing(bytes, name, limits));
        Assert.Equal(expected, RefusedStreaming(bytes, name, 1, limits));
        Assert.Equal(expected, RefusedStreaming(bytes, name, 7, limits));
    }

    [Fact]
    public void LinesBreakWhereStringEnumerateLinesBreaks()
    {
        // Every character string.EnumerateLines breaks at, and \v (U+000B), which it does not.
        string[] pieces = ["a", "é", "😀", " ", "\r", "\n", "\r\n", "\f", "\u0085", "\u2028", "\u2029", "\v", "\r\r\n\n"];
        var random = new Random(4180);
        for (int file = 0; file < 200; file++)
        {
            string text = "x" + string.Concat(Enumerable.Range(0, random.Next(1, 60)).Select(_ => pieces[random.Next(pieces.Length)]));
            var expected = new List<(string, int)>();
            int line = 0;
            foreach (ReadOnlySpan<char> raw in text.AsSpan().EnumerateLines())
            {
                line++;
                string prompt = raw.Trim().ToString();
                if (prompt.Length > 0)
                {
                    expected.Add((prompt, line));
                }
            }

            byte[] bytes = Encoding.UTF8.GetBytes(text);
            List<Prompt> prompts = Streamed(bytes, "p.txt", 1 + (file % 7), Roomy);
            Assert.Equal(expected, prompts.Select(p => (p.Text, p.Line)));
        }
    }

    [Fact]
    public void TheExoticLineBreaksEachEndALine()
    {
        byte[] bytes = Encoding.UTF8.GetBytes("a\u0085b\u2028c\u2029d\fe\vf\r\n\rg");
        foreach (string name in (string[])["p.txt", "p.jsonl"])
        {
            byte[] file = name == "p.txt" ? bytes : Encoding.UTF8.GetBytes("\"a\"\u0085\"b\"\u2028\"c\"\u2029\"d\"\f\"e\\u000Bf\"\r\n\r\"g\"");
            List<Prompt> prompts = Streamed(file, name, 1);
            Assert.Equal(["a", "b", "c", "d", "e\vf", "g"], prompts.Select(p => p.Text));
            Assert.Equal([1, 2, 3, 4, 5, 7], prompts.Select(p => p.Line));
        }
    }

    [Fact]
    public void AnUnsupportedFileTypeIsRefusedBeforeTheStreamIsRead()
    {
        var stream = new TrickleStream("a red circle\n"u8.ToArray(), int.MaxValue);
        var e = Assert.Throws<HierDiffInputException>(() => PromptFileReader.Stream(stream, "p.docx"));
        Assert.Equal("p.docx: unsupported prompt file type '.docx'; use one of .txt, .json, .jsonl, .csv", e.Message);
        Assert.Equal(0, stream.Position);
    }

    [Fact]
    public void TheStreamIsReadFromWhereItIsAndLeftOpen()
    {
        var stream = new MemoryStream("header to skip\na red circle\na blue square\n"u8.ToArray());
        stream.Position = "header to skip\n".Length;
        Assert.Equal(["a red circle", "a blue square"], PromptFileReader.Stream(stream, "p.txt").Select(p => p.Text));
        Assert.True(stream.CanRead);

        // The size limit counts from there, too.
        stream.Position = "header to skip\n".Length;
        Assert.Equal(2, PromptFileReader.Stream(stream, "p.txt", new PromptFileLimits { MaxFileBytes = 27 }).Count());
    }

    [Theory]
    [InlineData("p.txt")]
    [InlineData("p.jsonl")]
    [InlineData("p.csv")]
    [InlineData("p.json")]
    public void TakingTheFirstPromptReadsOneChunkNotTheFile(string name)
    {
        var file = GeneratedFile.Of(name, 10_000_000);
        using IEnumerator<Prompt> prompts = PromptFileReader.Stream(file, name, Roomy).GetEnumerator();
        Assert.True(prompts.MoveNext());
        Assert.Equal(0, prompts.Current.Index);
        Assert.True(file.Position <= PromptFileChunks.ChunkBytes, $"read {file.Position} bytes for one prompt");
        Assert.True(file.Length > 100 * file.Position);
    }

    [Theory]
    [InlineData("p.txt")]
    [InlineData("p.csv")]
    [InlineData("p.json")]
    public void AStreamThatFailsPartWayStillHandsOutThePromptsBeforeTheFailure(string name)
    {
        const long failAt = 1_000_000;
        var file = GeneratedFile.Of(name, 10_000_000, failAt);
        int before = (int)((failAt - PromptFileChunks.ChunkBytes - file.HeadBytes) / file.RecordBytes);
        Assert.Equal(before, PromptFileReader.Stream(file, name, Roomy).Take(before).Count());

        var e = Assert.Throws<IOException>(() => PromptFileReader.Stream(GeneratedFile.Of(name, 10_000_000, failAt), name, Roomy).Count());
        Assert.Equal($"the stream failed at byte {failAt}", e.Message);
    }

    [Fact]
    public void AStreamWithoutALengthIsRefusedOnceItPassesTheLimitAfterThePromptsBeforeIt()
    {
        var endless = new GeneratedFile("", i => "a red circle\n", int.MaxValue, "");
        int handedOut = 0;
        var e = Assert.Throws<HierDiffInputException>(() =>
        {
            foreach (Prompt prompt in PromptFileReader.Stream(endless, "pipe.txt", Roomy with { MaxFileBytes = 1_000_000 }))
            {
                handedOut++;
            }
        });
        Assert.Equal("pipe.txt: the prompt file is larger than that; the limit is 1,000,000 bytes (the setting HierDiff__MaxPromptFileBytes)", e.Message);
        Assert.True(handedOut >= (1_000_000 - PromptFileChunks.ChunkBytes) / 13, $"{handedOut} prompts before the refusal");
        Assert.True(endless.Position <= 1_000_000 + PromptFileChunks.ChunkBytes, $"read {endless.Position} bytes");
    }

    [Fact]
    public void AStreamWhoseLengthPassesTheLimitIsRefusedNamingItsSizeAfterOneChunk()
    {
        byte[] bytes = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("a red circle\n", 100_000)));
        var stream = new TrickleStream(bytes, int.MaxValue);
        var e = Assert.Throws<HierDiffInputException>(() => PromptFileReader.Stream(stream, "p.txt", new PromptFileLimits { MaxFileBytes = 1_000_000 }).First());
        Assert.Equal("p.txt: the prompt file is 1,300,000 bytes; the limit is 1,000,000 bytes (the setting HierDiff__MaxPromptFileBytes)", e.Message);
        Assert.Equal(PromptFileChunks.ChunkBytes, stream.Position);
    }

    [Fact]
    public void AFileIsReadThroughTheSameReaderAsBytes()
    {
        string path = Path.Combine(Path.GetTempPath(), $"hierdiff-stream-{Guid.NewGuid():N}.csv");
        File.WriteAllText(path, "id,prompt\n1,\"a red circle\nat night\"\n2,a blue square\n");
        try
        {
            PromptSet set = PromptFileReader.Read(path);
            Assert.Equal(["a red circle\nat night", "a blue square"], set.Texts);
            Assert.Equal([2, 4], set.Prompts.Select(p => p.Line));
            using FileStream stream = File.OpenRead(path);
            Assert.Equal(set.Prompts, PromptFileReader.Stream(stream, path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>A stream of bytes in memory whose reads hand out at most <c>readSize</c> bytes each.</summary>
    private sealed class TrickleStream(byte[] bytes, int readSize) : Stream
    {
        private readonly MemoryStream _inner = new(bytes, writable: false);

        public override bool CanRead => true;

        public override bool CanSeek => true;

        public override bool CanWrite => false;

        public override long Length => _inner.Length;

        public override long Position { get => _inner.Position; set => _inner.Position = value; }

        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, Math.Min(count, readSize));

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => _inner.Seek(offset, origin);

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

/// <summary>
/// A prompt file made up as it is read and never held whole, as a pipe hands one out: a head, numbered records all of
/// one length, a tail. It can fail at a given byte, as a broken connection does.
/// </summary>
internal sealed class GeneratedFile(string head, Func<int, string> record, int count, string tail, long failAt = long.MaxValue) : Stream
{
    private byte[] _piece = Encoding.UTF8.GetBytes(head);
    private int _pieceIndex = -1; // -1 the head, then the records, then the tail
    private int _inPiece;

    public long HeadBytes { get; } = Encoding.UTF8.GetByteCount(head);

    public long RecordBytes { get; } = Encoding.UTF8.GetByteCount(record(0));

    public int Records => count;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    /// <summary>How long the file is; it does not seek, so a reader cannot know this.</summary>
    public override long Length => HeadBytes + (count * RecordBytes) + Encoding.UTF8.GetByteCount(tail);

    public override long Position { get; set; }

    /// <summary>A file of about <paramref name="bytes"/> bytes of the format <paramref name="name"/> names, with
    /// characters of several bytes, CRLF, quoted CSV newlines and doubled quotes, JSON escapes.</summary>
    public static GeneratedFile Of(string name, long bytes, long failAt = long.MaxValue)
    {
        (string head, Func<int, string> record, string tail) = Path.GetExtension(name) switch
        {
            ".txt" => ("", (Func<int, string>)(i => $"prompt {i:D8} é😀\r\n"), ""),
            ".jsonl" => ("", i => $"{{\"id\": \"{i:D8}\", \"prompt\": \"prompt {i:D8} \\\"é\\\" 😀\"}}\n", ""),
            ".csv" => ("id,prompt\r\n", i => $"{i:D8},\"prompt {i:D8}, é \"\"😀\"\"\r\nsecond line\"\r\n", ""),
            _ => ("[\n", i => $"{(i == 0 ? ' ' : ',')}\"prompt {i:D8} \\\"é\\\" \\u00e9 😀\"\n", "]\n"),
        };
        return new GeneratedFile(head, record, (int)(bytes / Encoding.UTF8.GetByteCount(record(0))), tail, failAt);
    }

    public override int Read(byte[] buffer, int offset, int count1)
    {
        int written = 0;
        while (written < count1)
        {
            if (_inPiece == _piece.Length)
            {
                if (_pieceIndex == count)
                {
                    break;
                }

                _pieceIndex++;
                _piece = Encoding.UTF8.GetBytes(_pieceIndex < count ? record(_pieceIndex) : tail);
                _inPiece = 0;
                continue;
            }

            if (Position == failAt)
            {
                throw new IOException($"the stream failed at byte {failAt}");
            }

            int n = (int)Math.Min(Math.Min(count1 - written, _piece.Length - _inPiece), failAt - Position);
            _piece.AsSpan(_inPiece, n).CopyTo(buffer.AsSpan(offset + written));
            _inPiece += n;
            written += n;
            Position += n;
        }

        return written;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count1) => throw new NotSupportedException();
}
