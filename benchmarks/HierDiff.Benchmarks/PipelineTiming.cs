using System.Diagnostics;
using HierDiff.Core.Prompts;
using HierDiff.TestModels;

namespace HierDiff.Benchmarks;

/// <summary>
/// Standard against hierarchical generation, side by side in one process on one fixture model: does wall time
/// fall with denoiser calls? Runs alternate (standard, then each savings target) for the given rounds.
/// </summary>
public static class PipelineTiming
{
    public static void Run(int rounds, int steps)
    {
        string dir = Path.Combine(Path.GetTempPath(), "hierdiff-bench-" + Guid.NewGuid().ToString("N"));
        try
        {
            // A fixture whose UNet (a 384-channel hidden layer on 32 x 32 latents) is the cost of a step, as in real models.
            TinyStableDiffusion.Write(dir, new TinyModelOptions { HiddenSize = 768, LatentSize = 32, UNetWidth = 384 });
            using var model = StableDiffusionModel.Load(dir, OnnxDevice.Cpu);
            IReadOnlyList<string> prompts = PromptFileReader.Read(Path.Combine(AppContext.BaseDirectory, "style_variations.txt")).Texts;
            var baseOptions = new GenerationOptions { Steps = steps };
            (string Name, GenerationOptions Options)[] runs =
            [
                ("standard", baseOptions with { Mode = GenerationMode.Standard }),
                ("hierarchical, 25 % target", baseOptions with { TargetSavings = 0.25 }),
                ("hierarchical, 50 % target", baseOptions with { TargetSavings = 0.5 }),
                ("hierarchical, 75 % target", baseOptions with { TargetSavings = 0.75 }),
            ];

            Generate(model, dir, prompts.Take(4).ToArray(), baseOptions with { Steps = 2 }); // warm-up
            var wall = new Dictionary<string, List<double>>();
            var calls = new Dictionary<string, long>();
            var phases = new Dictionary<string, ManifestTimings>();
            for (int round = 0; round < rounds; round++)
            {
                foreach ((string name, GenerationOptions options) in runs)
                {
                    var clock = Stopwatch.StartNew();
                    GenerationManifest result = Generate(model, dir, prompts, options);
                    (wall.TryGetValue(name, out List<double>? list) ? list : wall[name] = []).Add(clock.Elapsed.TotalSeconds);
                    calls[name] = result.DenoiserCalls;
                    phases[name] = result.Timings;
                }
            }

            double standardWall = wall["standard"].Min();
            long standardCalls = calls["standard"];
            Console.WriteLine($"{prompts.Count} prompts, {steps} steps, DDPM, fixture UNet (384-channel hidden conv, 32 x 32 latents, 768-d text), best of {rounds}");
            Console.WriteLine("| run | denoiser calls | calls / standard | wall s | wall / standard | encode s | cluster s | denoise s | decode s |");
            Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
            foreach ((string name, _) in runs)
            {
                double w = wall[name].Min();
                ManifestTimings t = phases[name];
                Console.WriteLine($"| {name} | {calls[name]:N0} | {(double)calls[name] / standardCalls:0.000} | {w:0.00} | {w / standardWall:0.000} | " +
                    $"{t.Encode:0.00} | {t.Cluster:0.00} | {t.Denoise:0.00} | {t.Decode:0.00} |");
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>One run through the pipeline in this process, over a fresh local store (as hierdiff generate runs it).</summary>
    private static GenerationManifest Generate(StableDiffusionModel model, string dir, IReadOnlyList<string> prompts, GenerationOptions options)
    {
        var store = new LocalRunStore(Path.Combine(dir, "store-" + Guid.NewGuid().ToString("N")));
        store.WriteAsync(Containers.Prompts, "p.txt", System.Text.Encoding.UTF8.GetBytes(string.Join('\n', prompts))).GetAwaiter().GetResult();
        RunOutcome outcome = new LocalPipeline(store, () => model, new PipelineSettings { Limits = new PromptFileLimits { MaxPrompts = 100_000 } })
            .RunAsync(new RunInput("run", "p.txt", options)).GetAwaiter().GetResult();
        if (!outcome.Succeeded)
        {
            throw new InvalidOperationException(outcome.Error);
        }

        GenerationManifest manifest = GenerationManifest.Parse(store.ReadAsync(Containers.Runs, RunBlobs.Manifest("run")).GetAwaiter().GetResult()!);
        Directory.Delete(store.Root, recursive: true);
        return manifest;
    }
}
