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
        Assert.StartsWith("p.txt:2: the prompt is 2001 characters long; the limit is 2000", Refused(text, "p.txt"));
        Assert.Equal(1, Parse("short\n" + new string('x', 2000), "p.txt").Count - 1);
    }

    [Fact]
    public void MorePromptsThanTheLimitAreRefusedAtTheFirstOneTooMany()
    {
        string text = string.Join('\n', Enumerable.Range(0, 10_001).Select(i => $"prompt {i}"));
        Assert.StartsWith("p.txt:10001: more than 10000 prompts", Refused(text, "p.txt"));
        Assert.StartsWith("p.txt:4: more than 3 prompts", Refused("a\nb\nc\nd\n", "p.txt", new PromptFileLimits { MaxPrompts = 3 }));
    }

    [Fact]
    public void AMissingFileIsAnInputError()
    {
        var e = Assert.Throws<HierDiffInputException>(() => PromptFileReader.Read("/nonexistent/prompts.txt"));
        Assert.StartsWith("/nonexistent/prompts.txt: cannot read the prompt file", e.Message);
    }

    [Fact]
    public void ThePapersPromptSetsLoad()
    {
        PromptSet set = PromptFileReader.Read(TestPaths.Data("prompts", "style_variations.txt"));
        Assert.Equal(100, set.Count);
    }
}
