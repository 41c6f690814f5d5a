using System.Diagnostics;
using HierDiff.Core.Sampling;

namespace HierDiff.Benchmarks;

/// <summary>
/// The guided UNet's time per call against batch size on one model: what a plan's small batches cost against full
/// ones. Each size is timed over the same number of items (at least 8 calls), best of 3, after a warm-up call.
/// </summary>
public static class UNetBatch
{
    public static void Run(string modelDir, int[] sizes)
    {
        ITextToImageModel model = TextToImageModels.Load(modelDir, OnnxDevice.Cpu);
        float[] negative = model.NegativeConditioning("");
        IModelDenoiser denoiser = model.CreateDenoiser(negative, 7.5);
        float[] conditioning = model.Encode(["a red circle"])[0].Conditioning;
        int items = Math.Max(8 * sizes.Max(), 256);
        Console.WriteLine($"{model.Name}, guidance 7.5 (two UNet rows an item), {items} items per size, best of 3");
        Console.WriteLine("| batch | ms / call | ms / item | item cost / batch-32 item |");
        Console.WriteLine("| ---: | ---: | ---: | ---: |");
        var perItem = new Dictionary<int, double>();
        foreach (int size in sizes.Append(32).Distinct().Order())
        {
            DenoiserInput[] batch = Enumerable.Range(0, size)
                .Select(i => new DenoiserInput(Enumerable.Range(0, model.Latent.Length).Select(j => (float)Math.Sin(i + j)).ToArray(), 500, conditioning))
                .ToArray();
            float[][] outputs = Enumerable.Range(0, size).Select(_ => new float[model.Latent.Length]).ToArray();
            denoiser.Predict(batch, outputs);
            double best = double.MaxValue;
            int calls = Math.Max(8, items / size);
            for (int round = 0; round < 3; round++)
            {
                var clock = Stopwatch.StartNew();
                for (int c = 0; c < calls; c++)
                {
                    denoiser.Predict(batch, outputs);
                }

                best = Math.Min(best, clock.Elapsed.TotalMilliseconds / calls);
            }

            perItem[size] = best / size;
        }

        foreach ((int size, double item) in perItem.Where(p => sizes.Contains(p.Key)))
        {
            Console.WriteLine($"| {size} | {item * size:0.00} | {item:0.000} | {item / perItem[32]:0.00} |");
        }
    }
}
