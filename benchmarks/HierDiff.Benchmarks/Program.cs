using System.Diagnostics;
using BenchmarkDotNet.Running;

// dotnet run -c Release --project benchmarks/HierDiff.Benchmarks -- --filter '*'       (BenchmarkDotNet)
// dotnet run -c Release --project benchmarks/HierDiff.Benchmarks -- phases 10000 768   (one timed run, by phase)
// dotnet run -c Release --project benchmarks/HierDiff.Benchmarks -- phases FILE.npy
if (args.Length is 2 or 3 && args[0] == "phases")
{
    var embeddings = args.Length == 2
        ? HierDiff.Core.Embeddings.EmbeddingFile.Read(args[1])
        : HierDiff.Benchmarks.SyntheticEmbeddings.Clustered(int.Parse(args[1]), int.Parse(args[2]), seed: 42);
    var clock = Stopwatch.StartNew();
    double[] distances = CosineDistances.Condensed(embeddings);
    double pdist = clock.Elapsed.TotalSeconds;
    clock.Restart();
    Linkage tree = WardLinkage.FromCondensed(distances, embeddings.Rows);
    double ward = clock.Elapsed.TotalSeconds;
    Console.WriteLine($"N = {embeddings.Rows}, D = {embeddings.Columns}: distances {pdist:0.000} s, Ward {ward:0.000} s, " +
        $"total {pdist + ward:0.000} s, peak working set {Process.GetCurrentProcess().PeakWorkingSet64 / 1e6:0} MB, root {tree.Score(tree.Root):0.###}");
    return;
}

// dotnet run -c Release --project benchmarks/HierDiff.Benchmarks -- plan-scale N D MAX_EXACT      (sharded planning, by phase)
// dotnet run -c Release --project benchmarks/HierDiff.Benchmarks -- plan-compare N D SHARD        (sharded against exact, flat and topics)
// dotnet run -c Release --project benchmarks/HierDiff.Benchmarks -- plan-compare-world N SHARD    (on shapes-world prompts)
if (args.Length == 4 && args[0] == "plan-scale")
{
    HierDiff.Benchmarks.PlanScale.Run(int.Parse(args[1]), int.Parse(args[2]), int.Parse(args[3]));
    return;
}

if (args.Length == 4 && args[0] == "plan-compare")
{
    HierDiff.Benchmarks.PlanScale.Compare(HierDiff.Benchmarks.SyntheticEmbeddings.Clustered(int.Parse(args[1]), int.Parse(args[2]), seed: 42), int.Parse(args[3]), $"synthetic {args[1]} x {args[2]}, flat groups");
    HierDiff.Benchmarks.PlanScale.Compare(HierDiff.Benchmarks.SyntheticEmbeddings.Topics(int.Parse(args[1]), int.Parse(args[2]), seed: 42), int.Parse(args[3]), $"synthetic {args[1]} x {args[2]}, groups in topics");
    return;
}

if (args.Length == 3 && args[0] == "plan-compare-world")
{
    HierDiff.Benchmarks.PlanScale.Compare(HierDiff.Benchmarks.PlanScale.World(int.Parse(args[1])), int.Parse(args[2]), $"{args[1]} shapes-world prompts (built-in model)");
    return;
}

// dotnet run -c Release --project benchmarks/HierDiff.Benchmarks -- pipeline [ROUNDS] [STEPS]
if (args.Length >= 1 && args[0] == "pipeline")
{
    HierDiff.Benchmarks.PipelineTiming.Run(args.Length > 1 ? int.Parse(args[1]) : 3, args.Length > 2 ? int.Parse(args[2]) : 40);
    return;
}

// dotnet run -c Release --project benchmarks/HierDiff.Benchmarks -- durable [PROMPTS] [STEPS]   (needs Azurite on 127.0.0.1)
if (args.Length >= 1 && args[0] == "durable")
{
    await HierDiff.Benchmarks.DurableOverhead.RunAsync(args.Length > 1 ? int.Parse(args[1]) : 500, args.Length > 2 ? int.Parse(args[2]) : 40);
    return;
}

// dotnet run -c Release --project benchmarks/HierDiff.Benchmarks -- prepare-memory N [MAX_EXACT]   (PrepareRun's time and peak memory)
if (args.Length is 2 or 3 && args[0] == "prepare-memory")
{
    await HierDiff.Benchmarks.PrepareMemory.RunAsync(int.Parse(args[1]), args.Length > 2 ? int.Parse(args[2]) : PromptTree.DefaultMaxExact);
    return;
}

// dotnet run -c Release --project benchmarks/HierDiff.Benchmarks -- write-gpu-fixture DIR
// A Stable Diffusion 1.5-shaped export folder without its UNet: a tiny text encoder of 768-wide states, a tiny VAE
// decoder of 4 x 64 x 64 latents, tokenizer and scheduler. tools/gpu/export_unet.py writes the UNet into it.
if (args.Length == 2 && args[0] == "write-gpu-fixture")
{
    HierDiff.TestModels.TinyStableDiffusion.Write(args[1], new HierDiff.TestModels.TinyModelOptions { HiddenSize = 768, LatentSize = 64, SchedulerClass = "DDPMScheduler" });
    Directory.Delete(Path.Combine(args[1], "unet"), recursive: true);
    Console.WriteLine($"wrote {args[1]} (no unet/: tools/gpu/export_unet.py --out {args[1]})");
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(HierDiff.Benchmarks.ClusteringBenchmarks).Assembly).Run(args);
