using HierDiff.Core.Embeddings;
using HierDiff.Core.Sampling;
using HierDiff.Core.Schedulers;
using HierDiff.Models.Images;

namespace HierDiff.Models;

/// <summary>
/// One prompt as a model family encodes it: the vector the prompt tree is built on (the paper clusters on one
/// pooled vector per prompt), the conditioning its denoiser takes, flat, so that a cluster's conditioning is the
/// element-wise mean of its prompts', and how the text fared in the tokenizer.
/// </summary>
public sealed record PromptEncoding(float[] ClusterEmbedding, float[] Conditioning, int TokenCount, bool Truncated)
{
    /// <summary>The prompts' cluster embeddings as the matrix the tree is built on (cosine distances, in double).</summary>
    public static EmbeddingMatrix ClusterMatrix(IReadOnlyList<PromptEncoding> encoded, string source)
    {
        int width = encoded[0].ClusterEmbedding.Length;
        var data = new double[encoded.Count * width];
        for (int i = 0; i < encoded.Count; i++)
        {
            for (int j = 0; j < width; j++)
            {
                data[(i * width) + j] = encoded[i].ClusterEmbedding[j];
            }
        }

        return new EmbeddingMatrix(encoded.Count, width, data, source);
    }
}

/// <summary>The shape of a model's latents, channels x height x width.</summary>
public readonly record struct LatentShape(int Channels, int Height, int Width)
{
    public int Length => Channels * Height * Width;
}

/// <summary>A model's denoiser for one activity, which counts the seconds the model worked for it (the GPU time its
/// work is billed) and the seconds it waited while the model ran another activity's batch in the same worker.</summary>
public interface IModelDenoiser : IDenoiser
{
    double ModelSeconds { get; }

    double WaitSeconds { get; }

    /// <summary>How many items each of this denoiser's model calls held.</summary>
    BatchSizes Batches { get; }
}

/// <summary>
/// A text-to-image model family as the pipeline sees it: EncodePrompts and PlanRun encode prompts and the negative prompt with
/// it, segment activities denoise and decode with it. Nothing else of a family reaches the pipeline, so a new
/// family (SDXL's extra text embeddings and time ids, Kandinsky's image embeddings) is a new implementation and a
/// row in <see cref="TextToImageModels"/>, not a change to the pipeline. Implementations are shared by the
/// activities of one worker process and must be safe to call from several at once.
/// </summary>
public interface ITextToImageModel
{
    /// <summary>The export's folder name, as manifests and PNG metadata show it.</summary>
    string Name { get; }

    /// <summary>Where it runs: cpu, cuda:N.</summary>
    string Device { get; }

    /// <summary>Identifies the export (family, files, configs): a plan made with one model is never continued with another.</summary>
    string Fingerprint { get; }

    /// <summary>The export's scheduler_config.json.</summary>
    SchedulerConfig SchedulerConfig { get; }

    LatentShape Latent { get; }

    IReadOnlyList<PromptEncoding> Encode(IReadOnlyList<string> prompts);

    /// <summary>What guidance pushes away from: the negative prompt's conditioning, laid out as
    /// <see cref="PromptEncoding.Conditioning"/> is.</summary>
    float[] NegativeConditioning(string negativePrompt);

    /// <summary>A guided denoiser over conditionings laid out as <see cref="PromptEncoding.Conditioning"/>.</summary>
    IModelDenoiser CreateDenoiser(float[] negative, double guidance);

    /// <summary>Latents (of <see cref="Latent"/>'s shape) to images.</summary>
    IReadOnlyList<RgbImage> Decode(IReadOnlyList<float[]> latents);
}
