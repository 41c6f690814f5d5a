using System.Diagnostics;
using HierDiff.Models;
using HierDiff.Pipeline.Activities;
using HierDiff.Pipeline.Orchestration;
using HierDiff.Pipeline.Storage;

namespace HierDiff.Pipeline;

/// <summary>
/// The serverless pipeline on one machine: the same orchestration and activities as the Functions app, over a
/// local folder or blob storage, with the model loaded once in this process.
/// </summary>
/// <remarks>A cancelled <paramref name="cancellation"/> stops the run before its next activity (and the
/// <paramref name="onDenoised"/> callback may throw to stop it between model calls). <paramref name="onPrepared"/>
/// is told what PrepareRun planned, before any segment runs.</remarks>
public sealed class LocalPipeline(
    IRunStore store, Func<ITextToImageModel> model, PipelineSettings? settings = null, Action<int>? onDenoised = null, CancellationToken cancellation = default,
    Action<PreparedRun>? onPrepared = null)
{
    private readonly RunActivities _activities = new(store, model, settings ?? new PipelineSettings()) { OnDenoised = onDenoised };

    public IRunStore Store => store;

    public Task<RunOutcome> RunAsync(RunInput input)
    {
        var context = new InProcessRunContext(cancellation);
        context
            .Register<RunInput, PreparedRun>(RunFunctions.Prepare, async run =>
            {
                PreparedRun prepared = await _activities.PrepareAsync(run);
                onPrepared?.Invoke(prepared);
                return prepared;
            })
            .Register<SegmentBatch, ActivityReport>(RunFunctions.Segments, _activities.RunSegmentsAsync)
            .Register<FinishInput, RunOutcome>(RunFunctions.Finish, _activities.FinishAsync)
            .Register<SubtreeInput, ActivityReport>(RunFunctions.SubtreeOrchestrator, s => RunOrchestration.RunChildrenAsync(context, s));
        var clock = Stopwatch.StartNew();
        return RunOrchestration.RunAsync(context, input, () => clock.Elapsed.TotalSeconds);
    }
}
