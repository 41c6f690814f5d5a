using HierDiff.Core.Prompts;

namespace HierDiff.Core.Tests.Prompts;

/// <summary>
/// A large prompt file streams: the reader stays within a chunk or two of the prompt it hands out, and holds on to
/// none of what it has handed out. Alone in its collection, so that the heap it measures is its own.
/// </summary>
[Collection(nameof(PromptFileStreamMemoryTests))]
public class PromptFileStreamMemoryTests
{
    [Theory]
    [InlineData("p.txt")]
    [InlineData("p.jsonl")]
    [InlineData("p.csv")]
    [InlineData("p.json")]
    public void A50MegabyteFileIsReadNoMoreThanTwoChunksAheadAndNotKept(string name)
    {
        var file = GeneratedFile.Of(name, 50_000_000);
        var limits = new PromptFileLimits { MaxPrompts = int.MaxValue };
        long heapBefore = GC.GetTotalMemory(forceFullCollection: true);
        long heapGrowthMidway = 0;
        long mostAhead = 0;
        int count = 0;
        foreach (Prompt prompt in PromptFileReader.Stream(file, name, limits))
        {
            long recordEnd = file.HeadBytes + ((count + 1) * file.RecordBytes);
            mostAhead = Math.Max(mostAhead, file.Position - recordEnd);
            if (count == file.Records / 2)
            {
                heapGrowthMidway = GC.GetTotalMemory(forceFullCollection: true) - heapBefore;
            }

            count++;
        }

        Assert.Equal(file.Records, count);
        Assert.True(mostAhead <= 2 * PromptFileChunks.ChunkBytes, $"read {mostAhead:N0} bytes past a prompt it handed out");
        Assert.True(heapGrowthMidway < file.Length / 10, $"the heap grew {heapGrowthMidway:N0} bytes reading half of a {file.Length:N0}-byte file");
    }
}

[CollectionDefinition(nameof(PromptFileStreamMemoryTests), DisableParallelization = true)]
public class PromptFileStreamMemoryCollection
{
}
