using System.Globalization;
using HierDiff.Core;
using HierDiff.Core.Prompts;
using HierDiff.Pipeline.Orchestration;
using HierDiff.Pipeline.Storage;

namespace HierDiff.Functions;

/// <summary>
/// Refuses a prompt file over <c>HierDiff__MaxPromptFileBytes</c> from its size alone, before PrepareRun reads it:
/// the CPU app has 2 GiB, and a 300 MB file took 1.6 GB of it before the parser could refuse it.
/// </summary>
public static class PromptFileSize
{
    /// <summary>Why the run's prompt file is too big to read, or null (also where the name or container is
    /// unusable or the blob is missing: PrepareRun fails the run with that reason).</summary>
    public static async Task<string?> ProblemAsync(IRunStore store, RunInput input, long maxBytes)
    {
        StoredBlob? blob;
        try
        {
            blob = await store.PropertiesAsync(input.PromptsContainer, input.PromptsBlob);
        }
        catch (HierDiffInputException)
        {
            return null;
        }

        return blob is not null && blob.Size > maxBytes
            ? string.Create(CultureInfo.InvariantCulture,
                $"{input.PromptsContainer}/{input.PromptsBlob}: the prompt file is {blob.Size:N0} bytes; the limit is {maxBytes:N0} bytes ({PromptFileLimits.Setting("MaxPromptFileBytes")})")
            : null;
    }
}
