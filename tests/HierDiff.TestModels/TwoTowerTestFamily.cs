using System.Diagnostics;
using HierDiff.Core.Sampling;
using HierDiff.Core.Schedulers;
using HierDiff.Models;
using HierDiff.Models.Images;

namespace HierDiff.TestModels;

/// <summary>
/// A second model family behind <see cref="ITextToImageModel"/>, for tests of the seam: its denoiser takes four
/// inputs (the latent, the timestep, a token sequence and a pooled vector, as SDXL's UNet adds <c>text_embeds</c>
/// to Stable Diffusion's three), packed into one flat conditioning so that a cluster's is the mean of its
/// prompts'. Plain arithmetic, no ONNX: every output depends on every input, deterministically.
/// </summary>
public sealed class TwoTowerTestFamily : ITextToImageModel
{
    public const int Tokens = 8;
    public const int TokenWidth = 4;
    public const int PooledWidth = 6;

    public string Name => "two-tower-test";

    public string Device => "cpu";

    public string Fingerprint => "two-tower-test-v1";

    public SchedulerConfig SchedulerConfig { get; } = SchedulerConfig.Parse(
        """{"_class_name": "DDPMScheduler", "num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear"}""",
        "two-tower-test/scheduler_config.json");

    public LatentShape Latent { get; } = new(3, 4, 4);

    /// <summary>How many times the denoiser ran, and with how many items in all.</summary>
    public int Calls { get; private set; }

    public IReadOnlyList<PromptEncoding> Encode(IReadOnlyList<string> prompts) => prompts.Select(EncodeOne).ToArray();

    public float[] NegativeConditioning(string negativePrompt) => EncodeOne(negativePrompt).Conditioning;

    public IModelDenoiser CreateDenoiser(float[] negative, double guidance) => new Denoiser(this, negative, guidance);

    public IReadOnlyList<RgbImage> Decode(IReadOnlyList<float[]> latents) => latents.Select(latent =>
    {
        // Channel-major latent to interleaved RGB, one pixel per latent position.
        int area = Latent.Height * Latent.Width;
        var pixels = new byte[area * 3];
        for (int p = 0; p < area; p++)
        {
            for (int c = 0; c < 3; c++)
            {
                pixels[(p * 3) + c] = (byte)Math.Clamp((latent[(c * area) + p] + 1) * 127.5, 0, 255);
            }
        }

        return new RgbImage(Latent.Width, Latent.Height, pixels);
    }).ToArray();

    /// <summary>Words hashed into the cluster embedding (so prompts that share words cluster) and, coarser, into the
    /// pooled vector; characters into the token sequence.</summary>
    private static PromptEncoding EncodeOne(string text)
    {
        var cluster = new float[64];
        var pooled = new float[PooledWidth];
        cluster[0] = pooled[0] = 1; // never a zero row
        foreach (string word in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            cluster[1 + (Stable(word) % 63)] += 1;
            pooled[1 + (Stable(word) % (PooledWidth - 1))] += 1;
        }

        var sequence = new float[Tokens * TokenWidth];
        for (int i = 0; i < Math.Min(text.Length, Tokens * TokenWidth); i++)
        {
            sequence[i] = (text[i] % 13) / 13f;
        }

        return new PromptEncoding(cluster, [.. sequence, .. pooled], Math.Min(text.Length, Tokens), text.Length > Tokens);
    }

    private static int Stable(string word) => word.Aggregate(17, (h, c) => unchecked((h * 31) + c)) & int.MaxValue;

    private sealed class Denoiser(TwoTowerTestFamily family, float[] negative, double guidance) : IModelDenoiser
    {
        public double ModelSeconds { get; private set; }

        public double WaitSeconds => 0;

        // Computed item by item: any mix of steps in a call gives each item the same output.
        public bool TimestepPerItem => true;

        public BatchSizes Batches { get; } = new();

        public void Predict(IReadOnlyList<DenoiserInput> batch, IReadOnlyList<float[]> outputs)
        {
            long started = Stopwatch.GetTimestamp();
            for (int b = 0; b < batch.Count; b++)
            {
                float[] cond = Predict(batch[b].Latent, batch[b].Timestep, batch[b].Conditioning);
                float[] uncond = Predict(batch[b].Latent, batch[b].Timestep, negative);
                for (int j = 0; j < cond.Length; j++)
                {
                    outputs[b][j] = (float)(uncond[j] + (guidance * (cond[j] - uncond[j])));
                }
            }

            family.Calls++;
            Batches.Add(batch.Count);
            ModelSeconds += Stopwatch.GetElapsedTime(started).TotalSeconds;
        }

        /// <summary>The four inputs: latent, timestep, token sequence, pooled vector.</summary>
        private static float[] Predict(float[] latent, double timestep, float[] conditioning)
        {
            ReadOnlySpan<float> sequence = conditioning.AsSpan(0, Tokens * TokenWidth);
            ReadOnlySpan<float> pooled = conditioning.AsSpan(Tokens * TokenWidth, PooledWidth);
            var output = new float[latent.Length];
            double time = Math.Sin(timestep / 1000.0);
            for (int j = 0; j < latent.Length; j++)
            {
                output[j] = (float)((0.5 * latent[j]) + (time * sequence[j % sequence.Length]) + (0.05 * pooled[j % PooledWidth]));
            }

            return output;
        }
    }
}
