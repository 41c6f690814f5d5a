using HierDiff.Core.Planning;

namespace HierDiff.Core.Sampling;

/// <summary>
/// Conditions a cluster on the plain mean of its prompts' vectors (for Stable Diffusion: the token-sequence
/// embeddings), each prompt counting once. Summed in double as the first vector plus the mean offset from it, so
/// a single prompt, or identical prompts, get their own vector back bit for bit.
/// </summary>
public sealed class MeanConditioning(IReadOnlyList<float[]> vectors) : IConditioning
{
    public float[] For(PlanSegment segment) => For(segment.Members);

    /// <summary>The mean of these prompts' vectors (what PrepareRun stores for each node).</summary>
    public float[] For(IReadOnlyList<int> prompts)
    {
        float[] first = vectors[prompts[0]];
        if (prompts.Count == 1)
        {
            return first;
        }

        var offset = new double[first.Length];
        foreach (int p in prompts)
        {
            float[] v = vectors[p];
            for (int j = 0; j < offset.Length; j++)
            {
                offset[j] += v[j] - (double)first[j];
            }
        }

        var mean = new float[first.Length];
        for (int j = 0; j < mean.Length; j++)
        {
            mean[j] = (float)(first[j] + (offset[j] / prompts.Count));
        }

        return mean;
    }
}
