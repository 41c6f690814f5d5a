using HierDiff.Core.Embeddings;
using HierDiff.Core.Planning;

namespace HierDiff.Core.Sampling;

/// <summary>Conditions on the rows of an embedding matrix: a cluster gets the plain mean of its prompts' rows.</summary>
public sealed class EmbeddingConditioning(EmbeddingMatrix embeddings) : IConditioning
{
    public float[] For(PlanSegment segment) => Array.ConvertAll(embeddings.MeanOf(segment.Members), v => (float)v);
}
