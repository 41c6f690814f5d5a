using System.Diagnostics;
using System.Globalization;
using System.Text;
using HierDiff.Core;
using HierDiff.Core.Sampling;
using HierDiff.Models;
using HierDiff.Models.Onnx;

namespace HierDiff.Report;

/// <summary>
/// The guided UNet's time per call against batch size on one model and device (<c>hierdiff unet-timing</c>): what a
/// plan's small batches cost against full ones, and so how much of a saving in calls reaches the GPU bill. Each
/// size runs the same number of items (at least 8 calls), best of 3 rounds, after a warm-up call; the model's load
/// time comes first.
/// </summary>
public static class UNetTiming
{
    public static readonly int[] DefaultSizes = [1, 2, 4, 8, 16, 32, 48, 64];

    public const int MaxSize = 256;

    public static string Run(string modelDir, OnnxDevice device, IReadOnlyList<int> sizes, Action<string>? log = null)
    {
        if (sizes.Count == 0 || sizes.Any(s => s is < 1 or > MaxSize))
        {
            throw new HierDiffInputException($"--sizes must be batch sizes of 1 to {MaxSize}, not {string.Join(", ", sizes)}");
        }

        var clock = Stopwatch.StartNew();
        ITextToImageModel model = TextToImageModels.Load(modelDir, device);
        using IDisposable? sessions = model as IDisposable;
        double load = clock.Elapsed.TotalSeconds;
        IModelDenoiser denoiser = model.CreateDenoiser(model.NegativeConditioning(""), 7.5);
        float[] conditioning = model.Encode(["a red circle"])[0].Conditioning;
        int items = Math.Max(8 * sizes.Max(), 256);
        var perItem = new SortedDictionary<int, double>();
        foreach (int size in sizes.Distinct())
        {
            DenoiserInput[] batch = [.. Enumerable.Range(0, size)
                .Select(i => new DenoiserInput([.. Enumerable.Range(0, model.Latent.Length).Select(j => (float)Math.Sin(i + j))], 500, conditioning))];
            float[][] outputs = [.. Enumerable.Range(0, size).Select(_ => new float[model.Latent.Length])];
            denoiser.Predict(batch, outputs);
            double best = double.MaxValue;
            int calls = Math.Max(8, items / size);
            for (int round = 0; round < 3; round++)
            {
                clock.Restart();
                for (int call = 0; call < calls; call++)
                {
                    denoiser.Predict(batch, outputs);
                }

                best = Math.Min(best, clock.Elapsed.TotalMilliseconds / calls);
            }

            perItem[size] = best / size;
            log?.Invoke($"batch {size}: {best:0.00} ms a call");
        }

        CultureInfo c = CultureInfo.InvariantCulture;
        double reference = perItem[perItem.Keys.Max()];
        var text = new StringBuilder();
        text.AppendLine(c, $"{model.Name} on {model.Device}, {model.Latent.Channels} x {model.Latent.Height} x {model.Latent.Width} latents, guidance 7.5 (two UNet rows an item); loaded in {load:0.00} s; {items} items per size, best of 3");
        text.AppendLine();
        text.AppendLine(c, $"| batch | ms per call | ms per item | item cost / batch-{perItem.Keys.Max()} item |");
        text.AppendLine("| ---: | ---: | ---: | ---: |");
        foreach ((int size, double item) in perItem)
        {
            text.AppendLine(c, $"| {size} | {item * size:0.00} | {item:0.000} | {item / reference:0.00} |");
        }

        return text.ToString();
    }
}
