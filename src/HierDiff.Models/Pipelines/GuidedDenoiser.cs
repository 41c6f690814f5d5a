using HierDiff.Core.Sampling;

namespace HierDiff.Models.Pipelines;

/// <summary>
/// Classifier-free guidance around the UNet: each item is run twice in one batched call, with the negative
/// prompt's embedding and with its own, and the outputs combined as uncond + g (cond - uncond). A guided item counts
/// as one denoiser call, as in the paper. With g &lt;= 1 the unconditional half is skipped, as diffusers does. A UNet
/// that also predicts a learned variance (Kandinsky 2.2's, <see cref="UNet.OutputChannels"/> twice the latent's) is
/// guided on its first half, the predicted noise, and the variance half is dropped, as KandinskyV22Pipeline does for a
/// scheduler without learned variance (<c>noise_pred.split(latents.shape[1], dim=1)</c>).
/// </summary>
public sealed class GuidedDenoiser(UNet unet, float[] unconditional, double guidance, int latentHeight, int latentWidth) : IModelDenoiser
{
    // Sized by the largest call so far; smaller calls use the front of the same arrays.
    private float[] _samples = [];
    private float[] _hidden = [];
    private float[] _output = [];
    private double[] _timesteps = [];

    public bool Guided => guidance > 1;

    /// <summary>Seconds the UNet spent on this denoiser's calls: the GPU time its work is billed.</summary>
    public double ModelSeconds { get; private set; }

    /// <summary>Seconds this denoiser's calls waited while the UNet ran another caller's batch (several activities
    /// in one worker share one model): time its activity was not working, so not billed to it.</summary>
    public double WaitSeconds { get; private set; }

    public bool TimestepPerItem => unet.TimestepPerItem;

    /// <summary>Items per UNet call, as this denoiser's calls ran them.</summary>
    public BatchSizes Batches { get; } = new();

    public void Predict(IReadOnlyList<DenoiserInput> batch, IReadOnlyList<float[]> outputs)
    {
        if (TimestepPerItem)
        {
            RunGroup(batch, outputs);
            return;
        }

        // An export with one timestep per call: a batch that mixes steps (samplers do not send one) runs per step.
        foreach (IGrouping<double, int> group in Enumerable.Range(0, batch.Count).GroupBy(b => batch[b].Timestep))
        {
            int[] items = [.. group];
            RunGroup(items.Select(b => batch[b]).ToArray(), items.Select(b => outputs[b]).ToArray());
        }
    }

    private void RunGroup(IReadOnlyList<DenoiserInput> batch, IReadOnlyList<float[]> outputs)
    {
        int n = batch.Count;
        int latent = batch[0].Latent.Length;
        int hidden = unconditional.Length;

        // Values per item of out_sample; its first `latent` are the predicted noise (channels come first).
        int predicted = latent / unet.LatentChannels * unet.OutputChannels;
        int rows = Guided ? 2 * n : n;
        if (_samples.Length < rows * latent || _hidden.Length < rows * hidden || _output.Length < rows * predicted || _timesteps.Length < rows)
        {
            _samples = new float[rows * latent];
            _hidden = new float[rows * hidden];
            _output = new float[rows * predicted];
            _timesteps = new double[rows];
        }

        var buffers = (Samples: _samples, Hidden: _hidden, Output: _output);

        // diffusers' order: the unconditional half first, then the conditional half.
        int conditional = Guided ? n : 0;
        for (int b = 0; b < n; b++)
        {
            batch[b].Latent.CopyTo(buffers.Samples, (conditional + b) * latent);
            batch[b].Conditioning.CopyTo(buffers.Hidden, (conditional + b) * hidden);
            _timesteps[conditional + b] = batch[b].Timestep;
            if (Guided)
            {
                batch[b].Latent.CopyTo(buffers.Samples, b * latent);
                unconditional.CopyTo(buffers.Hidden, b * hidden);
                _timesteps[b] = batch[b].Timestep;
            }
        }

        long called = System.Diagnostics.Stopwatch.GetTimestamp();
        double seconds = unet.Run(rows, buffers.Samples.AsSpan(0, rows * latent), _timesteps.AsSpan(0, rows), buffers.Hidden.AsSpan(0, rows * hidden), buffers.Output.AsSpan(0, rows * predicted), latentHeight, latentWidth);
        ModelSeconds += seconds;
        Batches.Add(n);
        WaitSeconds += Math.Max(0, System.Diagnostics.Stopwatch.GetElapsedTime(called).TotalSeconds - seconds);
        float g = (float)guidance;
        for (int b = 0; b < n; b++)
        {
            Span<float> cond = buffers.Output.AsSpan((conditional + b) * predicted, latent);
            if (!Guided)
            {
                cond.CopyTo(outputs[b]);
                continue;
            }

            ReadOnlySpan<float> uncond = buffers.Output.AsSpan(b * predicted, latent);
            for (int j = 0; j < latent; j++)
            {
                outputs[b][j] = uncond[j] + (g * (cond[j] - uncond[j]));
            }
        }
    }
}
