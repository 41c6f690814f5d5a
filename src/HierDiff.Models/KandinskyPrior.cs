using System.Security.Cryptography;
using System.Text;
using HierDiff.Core;
using HierDiff.Core.Noise;
using HierDiff.Core.Schedulers;
using HierDiff.Models.Onnx;

namespace HierDiff.Models;

/// <summary>
/// Kandinsky 2.2's prior as diffusers' KandinskyV22PriorPipeline runs it: the CLIP text encoder with projection
/// (text_embeds and last_hidden_state), then the PriorTransformer (<c>prior/prior/model.onnx</c>) denoised by the
/// UnCLIP scheduler with classifier-free guidance against the empty prompt, then <c>post_process_latents</c>
/// (x clip_std + clip_mean). Each prompt's image embedding is a pure function of its text: its noise is seeded by
/// the text (<see cref="NoiseFor"/>), so batching, order and the run's seed change no bit of it.
/// </summary>
public sealed class KandinskyPrior : IDisposable
{
    /// <summary>KandinskyV22PriorPipeline's defaults: num_inference_steps 25, guidance_scale 4.</summary>
    public const int DefaultSteps = 25;

    public const double DefaultGuidance = 4.0;

    private const int BatchSize = 8;

    private readonly OnnxModel _prior;
    private readonly float[] _clipMean;
    private readonly float[] _clipStd;
    private readonly Lazy<EncodedPrompt> _empty;

    internal KandinskyPrior(TextEncoder textEncoder, OnnxModel prior, UnClipScheduler scheduler, float[] clipMean, float[] clipStd, double guidance)
    {
        TextEncoder = textEncoder;
        _prior = prior;
        Scheduler = scheduler;
        _clipMean = clipMean;
        _clipStd = clipStd;
        Guidance = guidance;
        EmbeddingDim = clipMean.Length;
        _empty = new Lazy<EncodedPrompt>(() => TextEncoder.Encode([""])[0]);
    }

    /// <summary>The prior's inputs: the noisy image embedding, the timestep, the prompt's text_embeds, its token
    /// states and their attention mask (bool as diffusers passes it, or an integer 0/1).</summary>
    internal static readonly Port[] Inputs =
    [
        new("hidden_states", Port.Floats, [2]),
        new("timestep", [.. Port.Floats, .. Port.Integers], [0, 1]),
        new("proj_embedding", Port.Floats, [2]),
        new("encoder_hidden_states", Port.Floats, [3]),
        new("attention_mask", [Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Bool, .. Port.Integers], [2]),
    ];

    internal static readonly Port[] Outputs = [new("predicted_image_embedding", Port.Floats, [2])];

    public TextEncoder TextEncoder { get; }

    public UnClipScheduler Scheduler { get; }

    public double Guidance { get; }

    /// <summary>Width of an image embedding (1280 for Kandinsky 2.2, CLIP ViT-bigG's).</summary>
    public int EmbeddingDim { get; }

    /// <summary>Each text's image embedding, in order, and its text encoding (for the token counts).</summary>
    public IReadOnlyList<(float[] ImageEmbedding, EncodedPrompt Text)> Embed(IReadOnlyList<string> texts)
    {
        IReadOnlyList<EncodedPrompt> encoded = TextEncoder.Encode(texts);
        var results = new (float[], EncodedPrompt)[texts.Count];
        for (int first = 0; first < texts.Count; first += BatchSize)
        {
            int count = Math.Min(BatchSize, texts.Count - first);
            float[][] embeddings = Denoise(encoded.Skip(first).Take(count).ToArray(), texts.Skip(first).Take(count).ToArray());
            for (int b = 0; b < count; b++)
            {
                results[first + b] = (embeddings[b], encoded[first + b]);
            }
        }

        return results;
    }

    /// <summary>The noise of a text's prior run: seed = the first 8 bytes of SHA-256 of its UTF-8 bytes, stream 0.
    /// Draw 0 is the initial embedding, draw i + 1 the variance noise of step i.</summary>
    public static NoiseStream NoiseFor(string text) =>
        new(BitConverter.ToUInt64(SHA256.HashData(Encoding.UTF8.GetBytes(text)).AsSpan(0, 8)), 0);

    public void Dispose()
    {
        TextEncoder.Dispose();
        _prior.Dispose();
    }

    /// <summary>KandinskyV22PriorPipeline.__call__ for a batch: rows [uncond ..., cond ...] as diffusers concatenates
    /// them, guidance uncond + g (text - uncond), a scheduler step with the next timestep as prev_timestep.</summary>
    private float[][] Denoise(EncodedPrompt[] prompts, string[] texts)
    {
        int n = prompts.Length, e = EmbeddingDim;
        bool guided = Guidance > 1;
        int rows = guided ? 2 * n : n;
        int tokens = prompts[0].Tokens.Ids.Length;
        int hidden = prompts[0].HiddenStates.Length / tokens;
        EncodedPrompt empty = _empty.Value;

        // The conditioning of every row: the same at every step.
        using var proj = new ModelTensor(_prior.InputType("proj_embedding"), [rows, prompts[0].Pooled.Length]);
        using var states = new ModelTensor(_prior.InputType("encoder_hidden_states"), [rows, tokens, hidden]);
        using var mask = new ModelTensor(_prior.InputType("attention_mask"), [rows, tokens]);
        for (int r = 0; r < rows; r++)
        {
            EncodedPrompt p = guided && r < n ? empty : prompts[guided ? r - n : r];
            proj.WriteFloats(r * p.Pooled.Length, p.Pooled);
            states.WriteFloats(r * p.HiddenStates.Length, p.HiddenStates);

            // The tokenizer's attention_mask: 1 for the start token, the text's tokens and the end token, 0 for padding.
            int real = Math.Min(p.Tokens.TokenCount, tokens);
            for (int j = 0; j < tokens; j++)
            {
                mask.Write((r * tokens) + j, j < real ? 1 : 0);
            }
        }

        // prepare_latents: standard normal noise x init_noise_sigma (1). Each prompt's stream is derived (a hash of
        // its text) once, not at every step.
        NoiseStream[] noises = texts.Select(NoiseFor).ToArray();
        float[][] latents = noises.Select(noise =>
        {
            var x = new float[e];
            noise.Fill(x, NoiseStream.InitialLatentDraw);
            return x;
        }).ToArray();

        using var sample = new ModelTensor(_prior.InputType("hidden_states"), [rows, e]);
        bool scalarTime = _prior.Inputs["timestep"].Dimensions.Length == 0;
        using var time = new ModelTensor(_prior.InputType("timestep"), scalarTime ? [] : [rows]);
        using var runOptions = new Microsoft.ML.OnnxRuntime.RunOptions();
        var guidedOutput = new float[e];
        for (int i = 0; i < Scheduler.Timesteps.Count; i++)
        {
            int t = Scheduler.Timesteps[i];
            for (int r = 0; r < rows; r++)
            {
                sample.WriteFloats(r * e, latents[guided ? r % n : r]);
                if (!scalarTime || r == 0)
                {
                    time.Write(r, t);
                }
            }

            using Microsoft.ML.OnnxRuntime.IDisposableReadOnlyCollection<Microsoft.ML.OnnxRuntime.OrtValue> outputs = _prior.Session.Run(
                runOptions,
                ["hidden_states", "timestep", "proj_embedding", "encoder_hidden_states", "attention_mask"],
                [sample.Value, time.Value, proj.Value, states.Value, mask.Value],
                ["predicted_image_embedding"]);
            float[] predicted = TextEncoder.ReadFloats(outputs[0]);
            if (predicted.Length != rows * e)
            {
                throw new HierDiffInputException($"{_prior.Path}: predicted_image_embedding has {predicted.Length / rows} values per row; expected {e} (the width of clip_mean)");
            }

            for (int b = 0; b < n; b++)
            {
                ReadOnlySpan<float> cond = predicted.AsSpan((guided ? n + b : b) * e, e);
                if (guided)
                {
                    ReadOnlySpan<float> uncond = predicted.AsSpan(b * e, e);
                    for (int j = 0; j < e; j++)
                    {
                        guidedOutput[j] = uncond[j] + ((float)Guidance * (cond[j] - uncond[j]));
                    }

                    cond = guidedOutput;
                }

                Scheduler.Step(i, cond, latents[b], noises[b]);
            }
        }

        // PriorTransformer.post_process_latents: back from the prior's normalised space to CLIP's.
        foreach (float[] x in latents)
        {
            for (int j = 0; j < e; j++)
            {
                x[j] = (x[j] * _clipStd[j]) + _clipMean[j];
            }
        }

        return latents;
    }
}
