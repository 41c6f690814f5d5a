using HierDiff.Models.Tokenization;

namespace HierDiff.Models.Tests.Tokenization;

/// <summary>
/// Our ids against OpenAI's own tokenizer (clip/simple_tokenizer.py, ftfy left out), line by line:
/// reference.jsonl came with the vocabulary; reference-unseen.jsonl was made with tools/make-clip-reference.py from
/// prompts the first file does not hold, and hard cases (long prompts, numbers, contractions, scripts, emoji,
/// entities, whitespace).
/// </summary>
public class ClipTokenizerReferenceTests
{
    public static TheoryData<string, int> Lines()
    {
        var data = new TheoryData<string, int>();
        foreach (string file in new[] { "reference.jsonl", "reference-unseen.jsonl" })
        {
            foreach (ClipTestData.Reference reference in ClipTestData.ReadReference(file))
            {
                data.Add(file, reference.Line);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Lines))]
    public void EncodeGivesOpenAisIds(string file, int line)
    {
        ClipTestData.Reference reference = ClipTestData.ReadReference(file)[line - 1];

        int[] ids = ClipTestData.Tokenizer.Encode(reference.Text);

        Assert.True(
            reference.Ids.SequenceEqual(ids),
            $"{file}:{line}: text {System.Text.Json.JsonSerializer.Serialize(reference.Text)}\n"
            + $"expected [{string.Join(", ", reference.Ids)}]\nactual   [{string.Join(", ", ids)}]");
    }
}
