using System.Text.RegularExpressions;
using HierDiff.Core;
using HierDiff.Models.Tokenization;
using HierDiff.TestModels;

namespace HierDiff.Models.Tests.Tokenization;

public class ClipTokenizerTests
{
    private const int Start = 49406;
    private const int End = 49407;

    [Fact]
    public void AShortPromptIsPaddedWithTheEndTokenAsInStableDiffusion1()
    {
        ClipTokenizer tokenizer = ClipTestData.Tokenizer;
        Assert.Equal((Start, End, End), (tokenizer.StartTokenId, tokenizer.EndTokenId, tokenizer.PadTokenId));

        TokenWindow window = tokenizer.EncodeWindow("a photo of a cat");

        int[] expected = [Start, 320, 1125, 539, 320, 2368, End, .. Enumerable.Repeat(End, 70)];
        Assert.Equal(expected, window.Ids);
        Assert.Equal(7, window.TokenCount);
        Assert.False(window.Truncated);
    }

    [Fact]
    public void ALongPromptKeepsTheStartTokenItsFirst75TokensAndTheEndToken()
    {
        // The longest prompt of the unseen reference, with OpenAI's ids for the whole text.
        ClipTestData.Reference longest = ClipTestData.ReadReference("reference-unseen.jsonl").MaxBy(r => r.Ids.Length)!;
        Assert.True(longest.Ids.Length > 77);

        TokenWindow window = ClipTestData.Tokenizer.EncodeWindow(longest.Text);

        Assert.Equal([.. longest.Ids[..76], End], window.Ids);
        Assert.Equal(longest.Ids.Length, window.TokenCount);
        Assert.True(window.Truncated);
        Assert.Equal(longest.Ids, ClipTestData.Tokenizer.Encode(longest.Text));
    }

    [Theory]
    [InlineData(75, 77, false)]
    [InlineData(76, 77, true)]
    [InlineData(8, 10, false)]
    [InlineData(9, 10, true)]
    [InlineData(0, 2, false)]
    [InlineData(1, 2, true)]
    public void TheWindowIsTruncatedOnlyWhenStartTextAndEndDoNotFit(int words, int length, bool truncated)
    {
        string text = string.Join(" ", Enumerable.Repeat("cat", words)); // "cat" is one token, 2368

        TokenWindow window = ClipTestData.Tokenizer.EncodeWindow(text, length);

        Assert.Equal(length, window.Ids.Length);
        Assert.Equal(words + 2, window.TokenCount);
        Assert.Equal(truncated, window.Truncated);
        int kept = Math.Min(words, length - 2);
        Assert.Equal([Start, .. Enumerable.Repeat(2368, kept), End, .. Enumerable.Repeat(End, length - kept - 2)], window.Ids);
    }

    [Fact]
    public void AWindowShorterThanStartAndEndIsRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => ClipTestData.Tokenizer.EncodeWindow("cat", 1));
    }

    [Theory]
    [InlineData("tokenizer_config.json", """{"do_lower_case": true, "model_max_length": 77, "pad_token": "!", "tokenizer_class": "CLIPTokenizer"}""")]
    [InlineData("tokenizer_config.json", """{"pad_token": {"__type": "AddedToken", "content": "!", "lstrip": false, "normalized": true, "rstrip": false, "single_word": false}}""")]
    [InlineData("special_tokens_map.json", """{"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "pad_token": "!", "unk_token": "<|endoftext|>"}""")]
    public void AStableDiffusion2TokenizerPadsWithTheExclamationMark(string file, string json)
    {
        using TempDirectory temp = ClipTestData.CopyToTemporaryFolder();
        string folder = temp.Path;
        File.WriteAllText(Path.Combine(folder, file), json);
        ClipTokenizer tokenizer = ClipTokenizer.Load(folder);

        TokenWindow window = tokenizer.EncodeWindow("a photo of a cat");

        Assert.Equal(0, tokenizer.PadTokenId);
        Assert.Equal("!", tokenizer.PadToken);
        Assert.Equal([Start, 320, 1125, 539, 320, 2368, End, .. Enumerable.Repeat(0, 70)], window.Ids);
    }

    [Fact]
    public void TheSpecialTokensMapOverridesTheTokenizerConfigAsInHuggingFace()
    {
        using TempDirectory temp = ClipTestData.CopyToTemporaryFolder();
        string folder = temp.Path;
        File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), """{"pad_token": "<|endoftext|>"}""");
        File.WriteAllText(Path.Combine(folder, "special_tokens_map.json"), """{"pad_token": {"content": "!"}}""");
        Assert.Equal(0, ClipTokenizer.Load(folder).PadTokenId);

        File.WriteAllText(Path.Combine(folder, "special_tokens_map.json"), """{"bos_token": "<|startoftext|>"}""");
        Assert.Equal(End, ClipTokenizer.Load(folder).PadTokenId);
    }

    [Fact]
    public void DecodeGivesBackTheLowerCasedTextOfAPromptOfWords()
    {
        ClipTokenizer tokenizer = ClipTestData.Tokenizer;
        int[] ids = tokenizer.Encode("  An Astronaut   riding\ta HORSE on Mars ");

        Assert.Equal("an astronaut riding a horse on mars", tokenizer.Decode(ids[1..^1]));
        Assert.Equal("<|startoftext|>an astronaut riding a horse on mars <|endoftext|>", tokenizer.Decode(ids));
    }

    [Fact]
    public void DecodeLosesNothingButSpacingForAsciiPrompts()
    {
        // Every word (and each digit and punctuation run) decodes with a space after it, so "cat," comes back as
        // "cat ,"; without spaces, the decoded text is the prompt lower-cased.
        ClipTokenizer tokenizer = ClipTestData.Tokenizer;
        IEnumerable<ClipTestData.Reference> ascii = ClipTestData.ReadReference("reference.jsonl")
            .Concat(ClipTestData.ReadReference("reference-unseen.jsonl"))
            .Where(r => r.Text.All(c => c is >= ' ' and <= '~' or '\t' or '\n' or '\r') && !r.Text.Contains('&'));
        int checkedPrompts = 0;
        foreach (ClipTestData.Reference reference in ascii)
        {
            string decoded = tokenizer.Decode(reference.Ids[1..^1]);
            Assert.Equal(NoSpace(reference.Text.ToLowerInvariant()), NoSpace(decoded));
            Assert.Equal(decoded, decoded.Trim());
            checkedPrompts++;
        }

        Assert.True(checkedPrompts > 400, $"only {checkedPrompts} ASCII prompts");
    }

    [Fact]
    public void DecodingACutWindowShowsWhereThePromptWasCut()
    {
        ClipTokenizer tokenizer = ClipTestData.Tokenizer;
        string prompt = string.Join(", ", Enumerable.Range(0, 30).Select(i => $"word{(char)('a' + (i % 26))}"));

        TokenWindow window = tokenizer.EncodeWindow(prompt);
        string decoded = tokenizer.Decode(window.Ids);

        Assert.True(window.Truncated);
        Assert.StartsWith("<|startoftext|>", decoded);
        Assert.EndsWith("<|endoftext|>", decoded);
        string kept = NoSpace(decoded["<|startoftext|>".Length..^"<|endoftext|>".Length]);
        Assert.StartsWith(kept, NoSpace(prompt));
        Assert.True(kept.Length < NoSpace(prompt).Length);
    }

    [Fact]
    public void DecodeRefusesAnIdOutsideTheVocabulary()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => ClipTestData.Tokenizer.Decode([320, 49408]));
    }

    [Theory]
    [InlineData("vocab.json", null, "vocab.json: not found")]
    [InlineData("merges.txt", null, "merges.txt: not found")]
    [InlineData("vocab.json", "{\"a\": 0,", "vocab.json: not valid JSON")]
    [InlineData("vocab.json", "[1, 2]", "vocab.json: expected a JSON object")]
    [InlineData("vocab.json", "{\"a\": \"zero\"}", "vocab.json: the id of \"a\" is not an integer")]
    [InlineData("vocab.json", "{\"a\": 0}", "vocab.json: no entry for")]
    [InlineData("merges.txt", "i n\nt h\n", "merges.txt:1: expected the '#version: ...' header line")]
    [InlineData("merges.txt", "#version: 0.2\ni n\nt h e\n", "merges.txt:3: expected two symbols")]
    [InlineData("merges.txt", "#version: 0.2\ni n\nq x\n", "merges.txt:3: \"qx\" is not in")]
    [InlineData("merges.txt", "#version: 0.2\ni n\nzq xj\n", "merges.txt:3: \"zq\" is not in")]
    [InlineData("tokenizer_config.json", "{\"pad_token\": \"<pad>\"}", "tokenizer_config.json: pad_token \"<pad>\" is not in")]
    [InlineData("tokenizer_config.json", "{\"pad_token\": 0}", "tokenizer_config.json: pad_token must be a string")]
    [InlineData("special_tokens_map.json", "not json", "special_tokens_map.json: not valid JSON")]
    public void ABrokenTokenizerFolderIsRejectedNamingTheFile(string file, string? content, string expected)
    {
        using TempDirectory temp = ClipTestData.CopyToTemporaryFolder();
        string folder = temp.Path;
        string path = Path.Combine(folder, file);
        if (content is null)
        {
            File.Delete(path);
        }
        else
        {
            File.WriteAllText(path, content);
        }

        HierDiffInputException e = Assert.Throws<HierDiffInputException>(() => ClipTokenizer.Load(folder));

        Assert.Contains(Path.Combine(folder, expected), e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void FilesSavedWithAByteOrderMarkLoad()
    {
        using TempDirectory temp = ClipTestData.CopyToTemporaryFolder();
        string folder = temp.Path;
        foreach (string name in new[] { "vocab.json", "merges.txt" })
        {
            string path = Path.Combine(folder, name);
            File.WriteAllBytes(path, [0xEF, 0xBB, 0xBF, .. File.ReadAllBytes(path)]);
        }

        File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), "\uFEFF{\"pad_token\": \"!\"}");

        ClipTokenizer tokenizer = ClipTokenizer.Load(folder);

        Assert.Equal([Start, 320, 1125, 539, 320, 2368, End], tokenizer.Encode("a photo of a cat"));
        Assert.Equal(0, tokenizer.PadTokenId);
    }

    [Fact]
    public void AMissingFolderIsRejectedNamingIt()
    {
        string folder = Path.Combine(Path.GetTempPath(), "hierdiff-no-such-tokenizer-" + Guid.NewGuid().ToString("N"));

        HierDiffInputException e = Assert.Throws<HierDiffInputException>(() => ClipTokenizer.Load(folder));

        Assert.StartsWith($"{folder}: no such tokenizer folder", e.Message);
    }

    [Fact]
    public void ThousandsOfPromptsEncodeTheSameOnManyThreadsAsOnOne()
    {
        // 2,000 distinct prompts (no timing asserted): one tokenizer used from many threads with a cold word cache
        // gives what a second one gives on one thread.
        string[] texts = [.. ClipTestData.ReadReference("reference-unseen.jsonl").Select(r => r.Text)];
        string[] prompts = [.. Enumerable.Range(0, 2000).Select(i => $"{texts[i % texts.Length]}, variation {i} of {texts[(i * 7) % texts.Length]}")];

        ClipTokenizer parallel = ClipTokenizer.Load(ClipTestData.Folder);
        var concurrent = new int[prompts.Length][];
        Parallel.For(0, prompts.Length, i => concurrent[i] = parallel.Encode(prompts[i]));

        ClipTokenizer sequential = ClipTokenizer.Load(ClipTestData.Folder);
        for (int i = 0; i < prompts.Length; i++)
        {
            Assert.Equal(sequential.Encode(prompts[i]), concurrent[i]);
        }
    }

    private static string NoSpace(string text) => Regex.Replace(text, @"\s+", "");
}
