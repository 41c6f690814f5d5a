using System.Diagnostics;
using HierDiff.Core.Prompts;
using HierDiff.Models.Images;
using HierDiff.Pipeline.Orchestration;
using HierDiff.Pipeline.Storage;
using HierDiff.ShapesWorld.World;

namespace HierDiff.Benchmarks;

/// <summary>
/// Preparing a run of N shapes-world prompts with the built-in model: the orchestration's own preparing
/// (<see cref="RunOrchestration.PrepareAsync"/>), then the run's first ScheduleSegments, its FinishShards and its FinishRun, every
/// activity one at a time. Prints each kind's time and the process's peak resident memory while one of them ran
/// (the model loaded, as in a worker, and what earlier activities left cached), so maxPrompts can be set to what a
/// replica holds. Linux only: the peak is reset between activities through /proc/self/clear_refs.
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
            var context = new MeasuringContext(activities);

            // The orchestration's own preparing, its activities one at a time.
            (PreparedRun prepared, _) = await RunOrchestration.PrepareAsync(context, input);
            if (prepared.Error is not null)
            {
                throw new InvalidOperationException(prepared.Error);
            }

            // The first thing a history does after preparing: its schedule, from the plan (all of it, once a worker).
            HistorySchedule first = await context.CallActivityAsync<HistorySchedule>(
                RunFunctions.Schedule, new SubtreeInput("run", [-1], RunOrchestration.MaxActivitiesPerHistory, prepared.MaxSubtreeCalls));

            // A sharded run's: each shard's history's schedule, from the shard's part of the plan.
            foreach (DelegatedSubtrees shard in first.Subtrees.Where(s => s.WholeShard))
            {
                await context.CallActivityAsync<HistorySchedule>(
                    RunFunctions.Schedule, new SubtreeInput("run", shard.Sources, RunOrchestration.MaxActivitiesPerHistory, prepared.MaxSubtreeCalls, shard.Shard));
            }

            // And the last: the manifest, from the plan. FinishRun reads only the first image's size, so one blank
            // image stands in for the run's (this measures what FinishRun holds, not what the segments made).
            await store.WriteAsync(Containers.Images, RunBlobs.Image("run", 0, n), PngEncoder.Encode(new RgbImage(64, 64, new byte[64 * 64 * 3])));
            // A sharded run's shards each write their manifest, then FinishRun the summary.
            var shards = new List<ManifestShard>();
            for (int s = 0; s < prepared.Shards; s++)
            {
                shards.Add(await context.CallActivityAsync<ManifestShard>(RunFunctions.FinishShard, new FinishShardInput("run", s, ActivityReport.Zero)));
            }

            await context.CallActivityAsync<RunOutcome>(RunFunctions.Finish, new FinishInput("run", ActivityReport.Zero with { Shards = shards }, 0));

            long stored = Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
            Console.WriteLine(
                $"N = {n}, max-exact {maxExact}: {prepared.SegmentCount:N0} segments, process before each activity at most {context.Baseline / 1e6:0} MB, " +
                $"GC heap limit {(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 1e6):0} MB, store {stored / 1e6:0} MB");
            Console.WriteLine("| activity | runs | seconds (all runs) | peak resident memory of the process during one run |");
            Console.WriteLine("| --- | ---: | ---: | ---: |");
            foreach ((string name, (int count, double seconds, long peak)) in context.Peaks)
            {
                Console.WriteLine($"| {name} | {count} | {seconds:0.0} | {peak / 1e6:0} MB |");
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Calls the activities one at a time, each after a full collection and with the process's peak
    /// resident memory reset, and keeps each kind's runs, seconds and highest peak.</summary>
    private sealed class MeasuringContext(RunActivities activities) : IRunContext
    {
        private readonly SemaphoreSlim _turn = new(1);

        public Dictionary<string, (int Count, double Seconds, long Peak)> Peaks { get; } = [];

        public long Baseline { get; private set; }

        public async Task<TResult> CallActivityAsync<TResult>(string name, object input)
        {
            await _turn.WaitAsync();
            try
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
                GC.Collect();
                File.WriteAllText("/proc/self/clear_refs", "5");
                Baseline = Math.Max(Baseline, Process.GetCurrentProcess().WorkingSet64);
                var clock = Stopwatch.StartNew();
                object result = await activities.CallAsync(name, input);
                string kind = input switch
                {
                    ConditionInput { Stops.Count: > 0 } => $"{name} (top)",
                    SubtreeInput { Shard: >= 0 } => $"{name} (a shard's)",
                    _ => name,
                };
                (int count, double total, long peak) = Peaks.GetValueOrDefault(kind);
                Peaks[kind] = (count + 1, total + clock.Elapsed.TotalSeconds, Math.Max(peak, Process.GetCurrentProcess().PeakWorkingSet64));
                return (TResult)result;
            }
            finally
            {
                _turn.Release();
            }
        }

        public Task<TResult> CallSubOrchestrationAsync<TResult>(string name, object input) => throw new InvalidOperationException("preparing has no sub-orchestrations");

        public void SetProgress(RunProgress progress)
        {
        }
    }
}
