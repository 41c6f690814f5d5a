using HierDiff.Core.Planning;

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
    /// <summary>Whether one call may hold items at different timesteps: the model takes a timestep per item (an
    /// export with timestep [B]). Where it takes one per call (a scalar timestep), every call holds one step's items.</summary>
    bool TimestepPerItem { get; }

    /// <summary>Fills outputs[b] for each batch item b (outputs may hold more arrays than the batch has items).</summary>
    void Predict(IReadOnlyList<DenoiserInput> batch, IReadOnlyList<float[]> outputs);
}

/// <summary>The conditioning a plan segment denoises with: for one prompt its own, for a cluster the mean of its
/// prompts'. Looked up by segment, so a host may compute it or read what was computed for the node.</summary>
public interface IConditioning
{
    float[] For(PlanSegment segment);
}
