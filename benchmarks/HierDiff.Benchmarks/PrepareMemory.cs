using System.Diagnostics;
using HierDiff.Core.Clustering;
using HierDiff.Core.Prompts;
using HierDiff.Models.Images;
using HierDiff.Pipeline.Orchestration;
using HierDiff.Pipeline.Storage;
using HierDiff.ShapesWorld.World;

namespace HierDiff.Benchmarks;

/// <summary>
/// Preparing a run of N shapes-world prompts with the built-in model, activity by activity as the orchestration
/// calls them (PrepareRun, EncodePrompts per chunk, above max-exact ShardPrompts and TreeShard per shard, PlanRun,
/// ConditionClusters per part and the top, then the run's
/// ScheduleSegments and FinishRun), one at a time.
/// Prints each kind's time and the process's peak resident memory while one of them ran (the model loaded, as in a
/// worker, and what earlier activities left cached), so maxPrompts can be set to what a replica holds. Linux only: the peak is reset between activities through /proc/self/clear_refs.
/// Run it under the replica's heap limit (DOTNET_GCHeapHardLimit) to see it hold, or fail, there.
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

            // The model loads once, before anything is measured, as a worker has it loaded.
            ITextToImageModel model = TextToImageModels.Shared(BuiltInModel.Directory, OnnxDevice.Cpu);
            var activities = new RunActivities(
                store, () => model, new PipelineSettings { Limits = PromptFileLimits.Default with { MaxPrompts = n } });
            var input = new RunInput("run", "p.txt", new GenerationOptions { TargetSavings = 0.5, MaxExact = maxExact });
            var peaks = new Dictionary<string, (int Count, double Seconds, long Peak)>();
            long baseline = 0;
            async Task<T> Measure<T>(string name, Func<Task<T>> activity)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
                GC.Collect();
                File.WriteAllText("/proc/self/clear_refs", "5");
                long before = Process.GetCurrentProcess().WorkingSet64;
                var clock = Stopwatch.StartNew();
                T result = await activity();
                double seconds = clock.Elapsed.TotalSeconds;
                long peakDuring = Process.GetCurrentProcess().PeakWorkingSet64;
                (int count, double total, long peak) = peaks.GetValueOrDefault(name);
                peaks[name] = (count + 1, total + seconds, Math.Max(peak, peakDuring));
                baseline = Math.Max(baseline, before);
                return result;
            }

            PromptChunks chunks = await Measure(RunFunctions.Prepare, () => activities.PrepareAsync(input));
            if (chunks.Error is not null)
            {
                throw new InvalidOperationException(chunks.Error);
            }

            double encodeSeconds = 0;
            for (int c = 0; c < chunks.Chunks; c++)
            {
                encodeSeconds += (await Measure(RunFunctions.Encode, () => activities.EncodeAsync(new EncodeInput("run", c)))).Seconds;
            }

            var plan = new PlanInput(input, chunks, encodeSeconds);
            if (PromptTree.IsShardedAt(n, maxExact))
            {
                PromptShards shards = await Measure(RunFunctions.Shard, () => activities.ShardAsync(plan));
                for (int s = 0; s < shards.Shards; s++)
                {
                    await Measure(RunFunctions.TreeShard, () => activities.TreeShardAsync(new ShardInput("run", s, chunks.PromptsPerChunk, shards.Width)));
                }

                plan = plan with { Shards = shards.Shards };
            }

            PreparedRun prepared = await Measure(RunFunctions.Plan, () => activities.PlanAsync(plan));
            foreach (int part in prepared.ConditionParts)
            {
                await Measure(RunFunctions.Condition, () => activities.ConditionAsync(new ConditionInput("run", part, [])));
            }

            if (prepared.ConditionParts is not [int only] || only != prepared.TreeRoot)
            {
                await Measure(RunFunctions.Condition + " (top)", () => activities.ConditionAsync(new ConditionInput("run", prepared.TreeRoot, prepared.ConditionParts)));
            }

            // The first thing a history does after preparing: its schedule, from the plan (all of it, once a worker).
            await Measure(RunFunctions.Schedule, () => activities.ScheduleAsync(new SubtreeInput("run", [-1], RunOrchestration.MaxActivitiesPerHistory, prepared.MaxSubtreeCalls)));

            // And the last: the manifest, from the plan. FinishRun reads only the first image's size, so one blank
            // image stands in for the run's (this measures what FinishRun holds, not what the segments made).
            await store.WriteAsync(Containers.Images, RunBlobs.Image("run", 0, n), PngEncoder.Encode(new RgbImage(64, 64, new byte[64 * 64 * 3])));
            await Measure(RunFunctions.Finish, () => activities.FinishAsync(new FinishInput("run", ActivityReport.Zero, 0)));

            long stored = Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
            Console.WriteLine(
                $"N = {n}, max-exact {maxExact}: {prepared.SegmentCount:N0} segments, {chunks.Chunks} chunks, {prepared.ConditionParts.Count} parts, " +
                $"process before each activity at most {baseline / 1e6:0} MB, GC heap limit {(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 1e6):0} MB, store {stored / 1e6:0} MB");
            Console.WriteLine("| activity | runs | seconds (all runs) | peak resident memory of the process during one run |");
            Console.WriteLine("| --- | ---: | ---: | ---: |");
            foreach ((string name, (int count, double seconds, long peak)) in peaks)
            {
                Console.WriteLine($"| {name} | {count} | {seconds:0.0} | {peak / 1e6:0} MB |");
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
