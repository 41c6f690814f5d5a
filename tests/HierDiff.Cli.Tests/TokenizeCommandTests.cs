namespace HierDiff.Cli.Tests;

public class TokenizeCommandTests
{
    private const string LongPrompt = "A sprawling steampunk city at dusk, brass airships drifting between copper towers, gears and pistons visible "
        + "in the walls, steam rising from countless chimneys, cobblestone streets crowded with merchants in top hats and goggles, "
        + "warm gaslight reflecting off wet stones, a giant clock tower dominating the skyline, intricate details, cinematic "
        + "lighting, ultra wide angle, 8k resolution, trending on artstation, by greg rutkowski and alphonse mucha";

    [Fact]
    public void EachPromptIsOneJsonLineWithItsWholeIdsInPromptOrder()
    {
        // Texts and ids from TestData/clip/reference.jsonl and reference-unseen.jsonl (OpenAI's tokenizer).
        (string Text, int[] Ids)[] expected =
        [
            ("a photo of a cat", [49406, 320, 1125, 539, 320, 2368, 49407]),
            ("café naïve résumé Zürich", [49406, 15304, 1097, 35689, 563, 29106, 7054, 4166, 89, 6522, 4021, 49407]),
            ("rock'n'roll band on stage at 7 o'clock", [49406, 2172, 262, 333, 262, 3341, 1963, 525, 2170, 536, 278, 334, 262, 6716, 49407]),
            ("\"quoted\" 'single' [brackets] {braces} #hashtag @mention", [49406, 257, 27706, 257, 568, 17005, 262, 314, 36183, 316, 346, 19249, 348, 258, 9238, 287, 6762, 49407]),
            (LongPrompt, LongPromptIds()),
        ];
        string prompts = WriteTemporary(".jsonl", string.Join("\n", expected.Select(e => JsonSerializer.Serialize(e.Text))));
        try
        {
            CliRunner.Result result = CliRunner.Run("tokenize", "--tokenizer", CliRunner.Data("clip"), "--prompts", prompts);

            Assert.Equal(0, result.ExitCode);
            Assert.Equal("", result.Stderr);
            Assert.EndsWith("\n", result.Stdout);
            string[] lines = result.Stdout.TrimEnd('\n').Split('\n');
            Assert.Equal(expected.Length, lines.Length);
            for (int i = 0; i < lines.Length; i++)
            {
                using JsonDocument line = JsonDocument.Parse(lines[i]);
                Assert.Equal(expected[i].Text, line.RootElement.GetProperty("text").GetString());
                Assert.Equal(expected[i].Ids, line.RootElement.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()));
            }

            Assert.Contains("café naïve", lines[1]); // non-ASCII text stays readable
            Assert.True(expected[^1].Ids.Length > 77); // the ids are whole, not cut to CLIP's window
        }
        finally
        {
            File.Delete(prompts);
        }
    }

    [Fact]
    public void ATextPromptFileWorksToo()
    {
        string prompts = WriteTemporary(".txt", "an astronaut riding a horse on mars\n\nA PHOTO OF A CAT\n");
        try
        {
            CliRunner.Result result = CliRunner.Run("tokenize", "--tokenizer", CliRunner.Data("clip"), "--prompts", prompts);

            Assert.Equal(0, result.ExitCode);
            Assert.Equal(
                "{\"text\":\"an astronaut riding a horse on mars\",\"ids\":[49406,550,18376,6765,320,4558,525,7496,49407]}\n"
                + "{\"text\":\"A PHOTO OF A CAT\",\"ids\":[49406,320,1125,539,320,2368,49407]}\n",
                result.Stdout);
        }
        finally
        {
            File.Delete(prompts);
        }
    }

    [Fact]
    public void AMissingTokenizerFolderIsOneLineAndExitCode2()
    {
        string prompts = WriteTemporary(".txt", "a cat\n");
        string folder = Path.Combine(Path.GetTempPath(), "hierdiff-no-such-tokenizer-" + Guid.NewGuid().ToString("N"));
        try
        {
            CliRunner.Result result = CliRunner.Run("tokenize", "--tokenizer", folder, "--prompts", prompts);

            Assert.Equal(2, result.ExitCode);
            Assert.Equal("", result.Stdout);
            string line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.StartsWith($"error: {folder}: no such tokenizer folder", line);
        }
        finally
        {
            File.Delete(prompts);
        }
    }

    [Fact]
    public void AFolderWithoutMergesIsOneLineNamingTheFile()
    {
        string folder = Path.Combine(Path.GetTempPath(), "hierdiff-tokenizer-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        File.Copy(CliRunner.Data(Path.Combine("clip", "vocab.json")), Path.Combine(folder, "vocab.json"));
        string prompts = WriteTemporary(".txt", "a cat\n");
        try
        {
            CliRunner.Result result = CliRunner.Run("tokenize", "--tokenizer", folder, "--prompts", prompts);

            Assert.Equal(2, result.ExitCode);
            string line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.StartsWith($"error: {Path.Combine(folder, "merges.txt")}: not found", line);
        }
        finally
        {
            Directory.Delete(folder, true);
            File.Delete(prompts);
        }
    }

    [Theory]
    [InlineData(".jsonl", "\"a cat\"\n{\"prompt\": 3}\n", ":2:")]
    [InlineData(".csv", "text\na cat\n", ":1:")]
    [InlineData(".txt", null, "no such prompt file")]
    public void ABadPromptFileIsOneLineNamingItAndExitCode2(string extension, string? content, string expected)
    {
        string prompts = content is null
            ? Path.Combine(Path.GetTempPath(), "hierdiff-missing-" + Guid.NewGuid().ToString("N") + extension)
            : WriteTemporary(extension, content);
        try
        {
            CliRunner.Result result = CliRunner.Run("tokenize", "--tokenizer", CliRunner.Data("clip"), "--prompts", prompts);

            Assert.Equal(2, result.ExitCode);
            Assert.Equal("", result.Stdout);
            string line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.StartsWith($"error: {prompts}", line);
            Assert.Contains(expected, line);
        }
        finally
        {
            File.Delete(prompts);
        }
    }

    private static int[] LongPromptIds()
    {
        foreach (string line in File.ReadLines(CliRunner.Data(Path.Combine("clip", "reference-unseen.jsonl"))))
        {
            using JsonDocument reference = JsonDocument.Parse(line);
            if (reference.RootElement.GetProperty("text").GetString() == LongPrompt)
            {
                return [.. reference.RootElement.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32())];
            }
        }

        throw new InvalidOperationException("the long prompt is not in reference-unseen.jsonl");
    }

    private static string WriteTemporary(string extension, string content)
    {
        string path = Path.Combine(Path.GetTempPath(), "hierdiff-prompts-" + Guid.NewGuid().ToString("N") + extension);
        File.WriteAllText(path, content);
        return path;
    }
}
