using System.Diagnostics;
using HierDiff.Core.Prompts;
using HierDiff.Pipeline.Orchestration;
using HierDiff.Pipeline.Storage;
using HierDiff.ShapesWorld.World;

namespace HierDiff.Benchmarks;

/// <summary>
/// PrepareRun on N shapes-world prompts with the built-in model, as the CPU app runs it: read and check the prompt
/// file, encode, cluster (sharded above max-exact), plan, and write each segment's conditioning. Prints the time
/// and the process's peak working set, so maxPrompts can be set to what a replica's memory holds. Run it under
/// the replica's heap limit (DOTNET_GCHeapHardLimit) to see it hold, or fail, there.
/// </summary>
public static class PrepareMemory
{
    public static async Task RunAsync(int n, int maxExact)
    {
        string dir = Path.Combine(Path.GetTempPath(), "hierdiff-prepare-" + Guid.NewGuid().ToString("N"));
        try
        {
            var random = new Random(42);
            string text = string.Join('\n', Enumerable.Range(0, n).Select(_ => PromptWriter.Write(PromptWriter.RandomDescription(random), random)));
            var store = new LocalRunStore(dir);
            await store.WriteAsync(Containers.Prompts, "p.txt", System.Text.Encoding.UTF8.GetBytes(text));
            text = "";
            GC.Collect();
            long before = Process.GetCurrentProcess().PeakWorkingSet64;

            var pipeline = new LocalPipeline(
                store, () => TextToImageModels.Shared(BuiltInModel.Directory, OnnxDevice.Cpu), new PipelineSettings { Limits = PromptFileLimits.Default with { MaxPrompts = n } });
            var clock = Stopwatch.StartNew();
            PreparedRun prepared = await pipeline.PrepareAsync(new RunInput("run", "p.txt", new GenerationOptions { TargetSavings = 0.5, MaxExact = maxExact }));
            double seconds = clock.Elapsed.TotalSeconds;
            if (prepared.Error is not null)
            {
                throw new InvalidOperationException(prepared.Error);
            }

            long stored = Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
            Console.WriteLine(
                $"N = {n}, max-exact {maxExact}: prepare {seconds:0.0} s, {prepared.Segments.Count:N0} segments, peak working set {Process.GetCurrentProcess().PeakWorkingSet64 / 1e6:0} MB " +
                $"(before: {before / 1e6:0} MB), GC heap limit {(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 1e6):0} MB, store {stored / 1e6:0} MB");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
