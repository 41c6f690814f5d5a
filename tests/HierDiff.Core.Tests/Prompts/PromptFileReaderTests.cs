using System.Text;
using HierDiff.Core.Prompts;

namespace HierDiff.Core.Tests.Prompts;

public class PromptFileReaderTests
{
    private static PromptSet Parse(string text, string name, PromptFileLimits? limits = null) =>
        PromptFileReader.Parse(Encoding.UTF8.GetBytes(text), name, limits);

    private static string Refused(string text, string name, PromptFileLimits? limits = null) =>
        Assert.Throws<HierDiffInputException>(() => Parse(text, name, limits)).Message;

    [Fact]
    public void TextFilesHaveOnePromptALineAndSkipBlankLines()
    {
        PromptSet set = Parse("\uFEFFa red circle\r\n\r\n  a blue square  \nred circle\n", "p.txt");
        Assert.Equal(["a red circle", "a blue square", "red circle"], set.Texts);
        Assert.Equal([1, 3, 4], set.Prompts.Select(p => p.Line));
        Assert.Equal([0, 1, 2], set.Prompts.Select(p => p.Index));
    }

    [Fact]
    public void DuplicatePromptsAreKept() =>
        Assert.Equal(3, Parse("tiger\ntiger\ntiger\n", "p.txt").Count);

    [Fact]
    public void JsonTakesStringsAndObjectsWithAPromptField()
    {
        PromptSet set = Parse("[\n \"a lion\",\n {\"id\": 7, \"prompt\": \"a \\\"tiger\\\"\", \"tags\": [1, {\"x\": 2}]}\n]", "p.json");
        Assert.Equal(["a lion", "a \"tiger\""], set.Texts);
        Assert.Equal([2, 3], set.Prompts.Select(p => p.Line));
    }

    [Fact]
    public void JsonLinesTakeOneValueALine()
    {
        PromptSet set = Parse("\"a lion\"\n\n{\"prompt\": \"a tiger\"}\n", "p.jsonl");
        Assert.Equal(["a lion", "a tiger"], set.Texts);
        Assert.Equal([1, 3], set.Prompts.Select(p => p.Line));
    }

    [Fact]
    public void CsvReadsThePromptColumnWithQuotedCommasQuotesAndNewlines()
    {
        PromptSet set = Parse("id,Prompt,seed\n1,\"a red circle, large\",4\n2,\"say \"\"hi\"\"\nplease\",5\n3,plain,6\n", "p.csv");
        Assert.Equal(["a red circle, large", "say \"hi\"\nplease", "plain"], set.Texts);
        Assert.Equal([2, 3, 5], set.Prompts.Select(p => p.Line));
    }

    [Theory]
    [InlineData("", "p.txt", "p.txt:1: the prompt file is empty")]
    [InlineData("\n  \n\n", "p.txt", "p.txt:1: no prompts in the file")]
    [InlineData("a\nb\0c\n", "p.txt", "p.txt:2: NUL byte")]
    [InlineData("[\"a\", 3]", "p.json", "p.json:1: element 1 is a number")]
    [InlineData("[\n\"a\",\n{\"text\": \"b\"}\n]", "p.json", "p.json:3: element 1 is an object without a \"prompt\" field")]
    [InlineData("[\"a\",\n\"b\"", "p.json", "p.json:2: invalid JSON")]
    [InlineData("{\"prompts\": []}", "p.json", "p.json:1: expected a JSON array of prompts")]
    [InlineData("[\"a\", \"  \"]", "p.json", "p.json:1: the prompt is empty")]
    [InlineData("\"a\"\n{\"prompt\": 5}\n", "p.jsonl", "p.jsonl:2: the line: \"prompt\" is a number")]
    [InlineData("\"a\"\n\"b\" \"c\"\n", "p.jsonl", "p.jsonl:2: invalid JSON")]
    [InlineData("[\"a\",\n\"\\ud83d\"]", "p.json", "p.json:2: element 1 holds an escaped lone surrogate")]
    [InlineData("{\"prompt\": \"\\udc00 b\"}\n", "p.jsonl", "p.jsonl:1: the line holds an escaped lone surrogate")]
    [InlineData("text,seed\na,1\n", "p.csv", "p.csv:1: no 'prompt' column in the header (found: text, seed)")]
    [InlineData("seed,prompt\n1,a\n2\n", "p.csv", "p.csv:3: the row has 1 fields")]
    [InlineData("prompt\n\"open\n", "p.csv", "p.csv:2: a quoted field is never closed")]
    [InlineData("a red circle", "p.docx", "p.docx: unsupported prompt file type '.docx'")]
    public void BadFilesAreRefusedNamingFileAndLine(string content, string name, string expected) =>
        Assert.StartsWith(expected, Refused(content, name));

    [Fact]
    public void InvalidUtf8IsRefusedWithItsLine()
    {
        byte[] bytes = [.. "ok\nfine\n"u8, 0xC3, 0x28, .. "\n"u8];
        var e = Assert.Throws<HierDiffInputException>(() => PromptFileReader.Parse(bytes, "p.txt"));
        Assert.StartsWith("p.txt:3: invalid UTF-8", e.Message);
    }

    [Fact]
    public void APromptOverTheLengthLimitIsRefused()
    {
        string text = "short\n" + new string('x', 2001) + "\n";
        Assert.StartsWith("p.txt:2: the prompt is 2001 characters long; the limit is 2000 (the setting HierDiff__MaxPromptLength)", Refused(text, "p.txt"));
        Assert.Equal(1, Parse("short\n" + new string('x', 2000), "p.txt").Count - 1);
    }

    [Fact]
    public void MorePromptsThanTheLimitAreRefusedAtTheFirstOneTooMany()
    {
        string text = string.Join('\n', Enumerable.Range(0, 10_001).Select(i => $"prompt {i}"));
        Assert.StartsWith("p.txt:10001: more than 10000 prompts; the limit is 10000 (the setting HierDiff__MaxPrompts)", Refused(text, "p.txt"));
        Assert.StartsWith("p.txt:4: more than 3 prompts", Refused("a\nb\nc\nd\n", "p.txt", new PromptFileLimits { MaxPrompts = 3 }));
    }

    [Fact]
    public void AMissingFileIsAnInputError()
    {
        var e = Assert.Throws<HierDiffInputException>(() => PromptFileReader.Read("/nonexistent/prompts.txt"));
        Assert.Equal("/nonexistent/prompts.txt: no such prompt file", e.Message);
    }

    [Fact]
    public void AFolderIsNamedAsAFolder()
    {
        string folder = Directory.CreateTempSubdirectory("hierdiff-prompts-").FullName;
        try
        {
            var e = Assert.Throws<HierDiffInputException>(() => PromptFileReader.Read(folder));
            Assert.Equal($"{folder}: is a folder, not a prompt file", e.Message);
        }
        finally
        {
            Directory.Delete(folder);
        }
    }

    [Theory]
    [InlineData("utf-16", "UTF-16 (little-endian, with a byte-order mark)")]
    [InlineData("utf-16BE", "UTF-16 (big-endian, with a byte-order mark)")]
    [InlineData("utf-16LE-nobom", "UTF-16 (little-endian)")]
    [InlineData("utf-16BE-nobom", "UTF-16 (big-endian)")]
    public void Utf16FilesAreNamedAsUtf16(string encoding, string named)
    {
        Encoding text = encoding.StartsWith("utf-16BE", StringComparison.Ordinal) ? Encoding.BigEndianUnicode : Encoding.Unicode;
        byte[] bytes = [.. encoding.EndsWith("-nobom", StringComparison.Ordinal) ? [] : text.GetPreamble(), .. text.GetBytes("a red circle\na blue square\n")];
        var e = Assert.Throws<HierDiffInputException>(() => PromptFileReader.Parse(bytes, "p.txt"));
        Assert.Equal($"p.txt:1: the file is {named} text; save it as UTF-8", e.Message);
    }

    [Theory]
    [InlineData("a\n\u200b\n", "p.txt", "p.txt:2: the prompt is empty: it holds only invisible characters (U+200B)")]
    [InlineData("a\n \u200d\ufeff \n", "p.txt", "p.txt:2: the prompt is empty: it holds only invisible characters (U+200D U+FEFF)")]
    [InlineData("[\"a\", \"\\u2060\"]", "p.json", "p.json:1: the prompt is empty: it holds only invisible characters (U+2060)")]
    public void APromptOfInvisibleCharactersIsEmpty(string content, string name, string expected) =>
        Assert.Equal(expected, Refused(content, name));

    [Fact]
    public void AFileOverTheByteLimitIsRefusedNamingTheSetting()
    {
        string path = Path.Combine(Path.GetTempPath(), $"hierdiff-big-{Guid.NewGuid():N}.txt");
        File.WriteAllText(path, string.Concat(Enumerable.Repeat("a red circle\n", 100)));
        try
        {
            var e = Assert.Throws<HierDiffInputException>(() => PromptFileReader.Read(path, new PromptFileLimits { MaxFileBytes = 1000 }));
            Assert.Equal($"{path}: the prompt file is 1,300 bytes; the limit is 1,000 bytes (the setting HierDiff__MaxPromptFileBytes)", e.Message);
            Assert.Equal(100, PromptFileReader.Read(path, new PromptFileLimits { MaxFileBytes = 1300 }).Count);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void AStreamWithoutALengthIsReadNoFurtherThanTheLimit()
    {
        var endless = new EndlessStream();
        var e = Assert.Throws<HierDiffInputException>(() => PromptFileReader.ReadCapped(endless, 1_000_000, "pipe.txt"));
        Assert.Contains("larger than that; the limit is 1,000,000 bytes", e.Message);
        Assert.True(endless.Served < 1_100_000, $"read {endless.Served} bytes");
    }

    [Fact]
    public void LimitsComeFromSettingsAndABadOneIsNamed()
    {
        var settings = new Dictionary<string, string> { ["MaxPrompts"] = "5", ["MaxPromptFileBytes"] = "2048" };
        PromptFileLimits limits = PromptFileLimits.FromSettings(name => settings.GetValueOrDefault(name));
        Assert.Equal(5, limits.MaxPrompts);
        Assert.Equal(2048, limits.MaxFileBytes);
        Assert.Equal(PromptFileLimits.DefaultMaxPromptLength, limits.MaxPromptLength);

        var e = Assert.Throws<HierDiffInputException>(() => PromptFileLimits.FromSettings(name => name == "MaxPromptLength" ? "-3" : null));
        Assert.Equal("the setting HierDiff__MaxPromptLength is '-3': expected a whole number from 1 to 2147483647", e.Message);
    }

    /// <summary>A pipe that never ends: the bytes of "a red circle" lines, served as asked.</summary>
    private sealed class EndlessStream : Stream
    {
        public long Served { get; private set; }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => Served; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            for (int i = 0; i < count; i++)
            {
                buffer[offset + i] = (byte)"a red circle\n"[(int)((Served + i) % 13)];
            }

            Served += count;
            return count;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    [Fact]
    public void ThePapersPromptSetsLoad()
    {
        PromptSet set = PromptFileReader.Read(TestPaths.Data("prompts", "style_variations.txt"));
        Assert.Equal(100, set.Count);
    }
}
