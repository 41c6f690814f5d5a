namespace HierDiff.Core.Sampling;

/// <summary>One latent to denoise: the scheduler-scaled input, the timestep, and the conditioning to use.</summary>
public readonly record struct DenoiserInput(float[] Latent, double Timestep, float[] Conditioning);

/// <summary>
/// The model: predicts the scheduler's model output (noise, v or flow) for a batch of latents. A guided call
/// (conditional and unconditional halves) is one item. Implementations must give each item the same result
/// whatever else is in the batch, so that batching never changes an image.
/// </summary>
public interface IDenoiser
{
    /// <summary>Fills outputs[b] for each batch item b (outputs may hold more arrays than the batch has items).</summary>
    void Predict(IReadOnlyList<DenoiserInput> batch, IReadOnlyList<float[]> outputs);
}

/// <summary>The conditioning for a set of prompts: for one prompt its own, for a cluster the mean of its prompts'.</summary>
public interface IConditioning
{
    float[] For(IReadOnlyList<int> prompts);
}
