using HierDiff.Core.Embeddings;

namespace HierDiff.Core.Sampling;

/// <summary>Conditions on the rows of an embedding matrix: a cluster gets the plain mean of its prompts' rows.</summary>
public sealed class EmbeddingConditioning(EmbeddingMatrix embeddings) : IConditioning
{
    public float[] For(IReadOnlyList<int> prompts) => Array.ConvertAll(embeddings.MeanOf(prompts), v => (float)v);
}
