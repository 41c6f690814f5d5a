using HierDiff.Core.Clustering;
using HierDiff.Core.Embeddings;
using HierDiff.Core.Planning;
using HierDiff.Core.Sampling;
using HierDiff.Core.Tests.Schedulers;

namespace HierDiff.Core.Tests.Sampling;

/// <summary>The product's invariants, with a deterministic stand-in for the model: tau = 0 is standard generation,
/// batching changes nothing, and running segment by segment through bytes equals running in one process.</summary>
public class PlanSamplerTests
{
    private const int Latent = 24;
    private const ulong Seed = 42;
    private static readonly EmbeddingMatrix Embeddings = EmbeddingFile.Read(TestPaths.Data("ward", "random-12x8.npy"));
    private static readonly Linkage Tree = WardLinkage.FromEmbeddings(Embeddings);

    public static TheoryData<string, string> Schedulers()
    {
        var data = new TheoryData<string, string>();
        foreach (string name in SchedulerFactory.Names)
        {
            data.Add(name, name == SchedulerFactory.FlowEuler ? "sd3" : "sd15");
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Schedulers))]
    public void TauZeroEqualsStandardGenerationBitForBit(string scheduler, string config)
    {
        DiffusionScheduler s = SchedulerFactory.Create(scheduler, SchedulerTestKit.Named(config), 10);
        var model = new CountingDenoiser();
        var sampler = new PlanSampler(s, model, new EmbeddingConditioning(Embeddings), Seed, maxBatch: 5);

        // A plan counts denoiser steps: one more than the inference steps for PNDM.
        float[][] hierarchical = sampler.RunHierarchical(HierarchicalPlan.Build(Tree, 0, s.StepCount), Latent);
        float[][] standard = sampler.RunStandard(Embeddings.Rows, Latent);

        for (int p = 0; p < Embeddings.Rows; p++)
        {
            AssertBits(standard[p], hierarchical[p], $"prompt {p}");
        }

        Assert.Equal(2 * s.StepCount * 12, model.Calls);
    }

    [Theory]
    [MemberData(nameof(Schedulers))]
    public void RunningSegmentBySegmentThroughBytesEqualsRunningInOneProcess(string scheduler, string config)
    {
        DiffusionScheduler s = SchedulerFactory.Create(scheduler, SchedulerTestKit.Named(config), 12);
        var conditioning = new EmbeddingConditioning(Embeddings);
        HierarchicalPlan plan = HierarchicalPlan.Build(Tree, 1.0, s.StepCount);
        Assert.Contains(plan.Segments, seg => seg.Start > 0);

        float[][] inProcess = new PlanSampler(s, new CountingDenoiser(), conditioning, Seed).RunHierarchical(plan, Latent);
        float[][] images = SegmentBySegment(plan, () => SchedulerFactory.Create(scheduler, SchedulerTestKit.Named(config), 12), conditioning);
        for (int p = 0; p < Embeddings.Rows; p++)
        {
            AssertBits(inProcess[p], images[p], $"prompt {p}");
        }
    }

    [Theory]
    [InlineData(0.5, 0)]
    [InlineData(2.0, 3)]
    [InlineData(1.0, 6)]
    public void EverySplitScheduleHandsOffThroughBytesExactlyAndTauZeroIsStillStandard(double shape, int privateSteps)
    {
        var schedule = new SplitSchedule(shape, privateSteps);
        DiffusionScheduler s = SchedulerFactory.Create(SchedulerFactory.Ddpm, SchedulerTestKit.Sd15, 12);
        var conditioning = new EmbeddingConditioning(Embeddings);
        HierarchicalPlan plan = HierarchicalPlan.Build(Tree, 1.0, 12, schedule);
        Assert.Contains(plan.Segments, seg => seg.Start > 0);
        var model = new CountingDenoiser();
        float[][] whole = new PlanSampler(s, model, conditioning, Seed).RunHierarchical(plan, Latent);
        Assert.Equal(plan.DenoiserCalls, model.Calls);
        float[][] parts = SegmentBySegment(plan, () => SchedulerFactory.Create(SchedulerFactory.Ddpm, SchedulerTestKit.Sd15, 12), conditioning);
        var sampler = new PlanSampler(s, new CountingDenoiser(), conditioning, Seed);
        float[][] tauZero = sampler.RunHierarchical(HierarchicalPlan.Build(Tree, 0, 12, schedule), Latent);
        float[][] standard = sampler.RunStandard(Embeddings.Rows, Latent);
        for (int p = 0; p < Embeddings.Rows; p++)
        {
            AssertBits(whole[p], parts[p], $"prompt {p}");
            AssertBits(standard[p], tauZero[p], $"prompt {p} at tau 0");
        }
    }

    /// <summary>Each segment on a "different worker": a new sampler and scheduler, the source's bytes as its only
    /// input. Returns each prompt's final latent.</summary>
    private static float[][] SegmentBySegment(HierarchicalPlan plan, Func<DiffusionScheduler> scheduler, IConditioning conditioning)
    {
        var store = new Dictionary<int, byte[]>();
        var images = new float[plan.PromptCount][];
        foreach (PlanSegment segment in plan.Segments)
        {
            var worker = new PlanSampler(scheduler(), new CountingDenoiser(), conditioning, Seed);
            var handOffs = segment.Source >= 0 ? new Dictionary<int, byte[]> { [segment.Source] = store[segment.Source] } : [];
            (PlanSegment ended, Trajectory done) = Assert.Single(worker.RunSegments([segment], Latent, handOffs));
            Assert.Same(segment, ended);
            store[segment.Node] = done.ToBytes();
            if (segment.End == plan.Steps)
            {
                foreach (int p in segment.Members)
                {
                    images[p] = Trajectory.FromBytes(store[segment.Node]).Latent;
                }
            }
        }

        return images;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(9)]
    public void RunningThePlanInTwoPartsThroughTheFrontierEqualsRunningItWhole(int split)
    {
        DiffusionScheduler s = SchedulerFactory.Create(SchedulerFactory.DpmSolverMultistep, SchedulerTestKit.Sd15, 12);
        var conditioning = new EmbeddingConditioning(Embeddings);
        HierarchicalPlan plan = HierarchicalPlan.Build(Tree, 1.0, 12);
        float[][] whole = new PlanSampler(s, new CountingDenoiser(), conditioning, Seed).RunHierarchical(plan, Latent);

        // The first part: the segments that start before the split. Its frontier is what the second part needs.
        PlanSegment[] early = plan.Segments.Where(seg => seg.Start < split).ToArray();
        PlanSegment[] late = plan.Segments.Where(seg => seg.Start >= split).ToArray();
        IReadOnlyList<(PlanSegment Segment, Trajectory Trajectory)> first =
            new PlanSampler(s, new CountingDenoiser(), conditioning, Seed).RunSegments(early, Latent, new Dictionary<int, byte[]>());
        int[] ends = [.. early.Where(e => !early.Any(c => c.Source == e.Node)).Select(e => e.Node).Order()];
        Assert.Equal(ends, first.Select(f => f.Segment.Node).Order());
        Assert.Contains(first, f => f.Segment.End < plan.Steps);

        var handOffs = first.ToDictionary(f => f.Segment.Node, f => f.Trajectory.ToBytes());
        IEnumerable<(PlanSegment Segment, Trajectory Trajectory)> second =
            new PlanSampler(s, new CountingDenoiser(), conditioning, Seed, maxBatch: 3).RunSegments(late, Latent, handOffs);

        foreach ((PlanSegment segment, Trajectory trajectory) in first.Concat(second).Where(f => f.Segment.End == plan.Steps))
        {
            foreach (int p in segment.Members)
            {
                AssertBits(whole[p], trajectory.Latent, $"prompt {p}");
            }
        }
    }

    [Fact]
    public void ASegmentWhoseSourceTrajectoryIsNotHandedInIsRefused()
    {
        DiffusionScheduler s = SchedulerFactory.Create(SchedulerFactory.Ddpm, SchedulerTestKit.Sd15, 10);
        HierarchicalPlan plan = HierarchicalPlan.Build(Tree, 1.0, 10);
        PlanSegment child = plan.Segments.First(seg => seg.Source >= 0);
        var sampler = new PlanSampler(s, new CountingDenoiser(), new EmbeddingConditioning(Embeddings), Seed);

        var e = Assert.Throws<InvalidOperationException>(() => sampler.RunSegments([child], Latent, new Dictionary<int, byte[]>()));
        Assert.Contains($"node {child.Node} continues node {child.Source}", e.Message);
    }

    [Fact]
    public void ATrajectoryHandedInAtTheWrongStepIsRefused()
    {
        DiffusionScheduler s = SchedulerFactory.Create(SchedulerFactory.Ddpm, SchedulerTestKit.Sd15, 10);
        HierarchicalPlan plan = HierarchicalPlan.Build(Tree, 1.0, 10);
        PlanSegment child = plan.Segments.First(seg => seg.Source >= 0 && seg.Start > 1);
        var sampler = new PlanSampler(s, new CountingDenoiser(), new EmbeddingConditioning(Embeddings), Seed);
        var fresh = new Trajectory(new float[Latent], s.CreateState());

        var e = Assert.Throws<InvalidOperationException>(() =>
            sampler.RunSegments([child], Latent, new Dictionary<int, byte[]> { [child.Source] = fresh.ToBytes() }));
        Assert.Contains($"starts at step {child.Start}, but the trajectory handed to it is at step 0", e.Message);
    }

    [Fact]
    public void EachSegmentIsConditionedOnWhatTheConditioningGivesItsNode()
    {
        DiffusionScheduler s = SchedulerFactory.Create(SchedulerFactory.Ddpm, SchedulerTestKit.Sd15, 10);
        HierarchicalPlan plan = HierarchicalPlan.Build(Tree, 1.0, 10);
        var byMembers = new EmbeddingConditioning(Embeddings);

        // The same vectors, found by node alone (as a host that read them back from a store does), from copies of
        // the segments whose member arrays are other arrays.
        var byNode = new NodeConditioning(plan.Segments.ToDictionary(seg => seg.Node, byMembers.For));
        PlanSegment[] copies = plan.Segments.Select(seg => seg with { Members = [.. seg.Members] }).ToArray();
        var expected = new PlanSampler(s, new CountingDenoiser(), byMembers, Seed).RunSegments(plan.Segments, Latent, new Dictionary<int, byte[]>());
        var actual = new PlanSampler(s, new CountingDenoiser(), byNode, Seed).RunSegments(copies, Latent, new Dictionary<int, byte[]>());

        Assert.Equal(expected.Select(e => e.Segment.Node), actual.Select(a => a.Segment.Node));
        foreach (((PlanSegment segment, Trajectory e), (_, Trajectory a)) in expected.Zip(actual))
        {
            AssertBits(e.Latent, a.Latent, $"node {segment.Node}");
        }
    }

    [Fact]
    public void BatchSizeDoesNotChangeTheResult()
    {
        DiffusionScheduler s = SchedulerFactory.Create(SchedulerFactory.Ddpm, SchedulerTestKit.Sd15, 10);
        HierarchicalPlan plan = HierarchicalPlan.Build(Tree, 1.0, 10);
        float[][] one = new PlanSampler(s, new CountingDenoiser(), new EmbeddingConditioning(Embeddings), Seed, maxBatch: 1).RunHierarchical(plan, Latent);
        float[][] many = new PlanSampler(s, new CountingDenoiser(), new EmbeddingConditioning(Embeddings), Seed, maxBatch: 32).RunHierarchical(plan, Latent);
        for (int p = 0; p < Embeddings.Rows; p++)
        {
            AssertBits(one[p], many[p], $"prompt {p}");
        }
    }

    [Theory]
    [MemberData(nameof(Schedulers))]
    public void FillingCallsAcrossStepsChangesNoBit(string scheduler, string config)
    {
        DiffusionScheduler s = SchedulerFactory.Create(scheduler, SchedulerTestKit.Named(config), 10);
        HierarchicalPlan plan = HierarchicalPlan.Build(Tree, 1.0, s.StepCount);
        var mixed = new CountingDenoiser(timestepPerItem: true);
        var byStep = new CountingDenoiser(timestepPerItem: false);
        float[][] a = new PlanSampler(s, mixed, new EmbeddingConditioning(Embeddings), Seed, maxBatch: 3).RunHierarchical(plan, Latent);
        float[][] b = new PlanSampler(s, byStep, new EmbeddingConditioning(Embeddings), Seed, maxBatch: 3).RunHierarchical(plan, Latent);
        for (int p = 0; p < Embeddings.Rows; p++)
        {
            AssertBits(b[p], a[p], $"prompt {p}");
        }

        Assert.Equal(plan.DenoiserCalls, mixed.Calls);
        Assert.Equal(plan.DenoiserCalls, byStep.Calls);
    }

    [Fact]
    public void ItemsOfDifferentStepsShareACallOnlyWhereTheDenoiserTakesATimestepPerItem()
    {
        DiffusionScheduler s = SchedulerFactory.Create(SchedulerFactory.Ddim, SchedulerTestKit.Sd15, 10);
        HierarchicalPlan plan = HierarchicalPlan.Build(Tree, 1.0, 10);
        var perItem = new RecordingDenoiser(timestepPerItem: true);
        var perCall = new RecordingDenoiser(timestepPerItem: false);
        new PlanSampler(s, perItem, new EmbeddingConditioning(Embeddings), Seed, maxBatch: 4).RunHierarchical(plan, Latent);
        new PlanSampler(s, perCall, new EmbeddingConditioning(Embeddings), Seed, maxBatch: 4).RunHierarchical(plan, Latent);

        Assert.Contains(perItem.Calls, call => call.Distinct().Count() > 1);
        Assert.All(perCall.Calls, call => Assert.Single(call.Distinct()));

        // One timestep per call is step by step, as before: each step's running segments in calls of at most 4.
        int[] active = Enumerable.Range(0, 10).Select(k => plan.Segments.Count(seg => seg.Start <= k && k < seg.End)).ToArray();
        Assert.Equal(active.Sum(a => (a + 3) / 4), perCall.Calls.Count);
        Assert.True(perItem.Calls.Count < perCall.Calls.Count, $"{perItem.Calls.Count} calls filled across steps, {perCall.Calls.Count} step by step");
    }

    [Fact]
    public void CallsAreFullWheneverEnoughSegmentsAreReady()
    {
        // Standard generation of 12 prompts: every prompt always has a next step, so every call but the last is full.
        DiffusionScheduler s = SchedulerFactory.Create(SchedulerFactory.Ddpm, SchedulerTestKit.Sd15, 10);
        var model = new RecordingDenoiser(timestepPerItem: true);
        new PlanSampler(s, model, new EmbeddingConditioning(Embeddings), Seed, maxBatch: 5).RunStandard(12, Latent);

        Assert.Equal((120 + 4) / 5, model.Calls.Count);
        Assert.All(model.Calls.SkipLast(1), call => Assert.Equal(5, call.Length));

        // Furthest behind first: no call holds a step more than one past the lowest step still to run.
        Assert.All(model.Calls, call => Assert.True(call.Distinct().Count() <= 2, string.Join(", ", call)));
    }

    [Fact]
    public void TheBatchingOrderIsAPureFunctionOfThePlan()
    {
        // The same segments in another order (as a host might list them) make the same calls in the same order.
        DiffusionScheduler s = SchedulerFactory.Create(SchedulerFactory.Ddpm, SchedulerTestKit.Sd15, 10);
        HierarchicalPlan plan = HierarchicalPlan.Build(Tree, 1.0, 10);
        PlanSegment[] shuffled = [.. plan.Segments.OrderBy(seg => (seg.Node * 7919) % 13)];
        Assert.NotEqual(plan.Segments.Select(seg => seg.Node), shuffled.Select(seg => seg.Node));

        var first = new RecordingDenoiser(timestepPerItem: true);
        var second = new RecordingDenoiser(timestepPerItem: true);
        var frontier = new PlanSampler(s, first, new EmbeddingConditioning(Embeddings), Seed, maxBatch: 4).RunSegments(plan.Segments, Latent, new Dictionary<int, byte[]>());
        var again = new PlanSampler(s, second, new EmbeddingConditioning(Embeddings), Seed, maxBatch: 4).RunSegments(shuffled, Latent, new Dictionary<int, byte[]>());

        Assert.Equal(first.Inputs, second.Inputs);
        Assert.Equal(frontier.Select(f => f.Segment.Node), again.Select(f => f.Segment.Node));
        Assert.Equal(frontier.Select(f => (f.Segment.End, f.Segment.Node)).Order(), frontier.Select(f => (f.Segment.End, f.Segment.Node)));
    }

    [Fact]
    public void TheModelIsCalledExactlyAsOftenAsThePlanCounts()
    {
        DiffusionScheduler s = SchedulerFactory.Create(SchedulerFactory.Ddim, SchedulerTestKit.Sd15, 40);
        foreach (double tau in new[] { 0.25, 1.0, 2.0 })
        {
            HierarchicalPlan plan = HierarchicalPlan.Build(Tree, tau, 40);
            var model = new CountingDenoiser();
            float[][] images = new PlanSampler(s, model, new EmbeddingConditioning(Embeddings), Seed).RunHierarchical(plan, Latent);
            Assert.Equal(plan.DenoiserCalls, model.Calls);
            Assert.True(model.Calls < 40 * 12);
            Assert.All(images, image => Assert.All(image, v => Assert.True(float.IsFinite(v))));
        }
    }

    [Fact]
    public void SharedStepsMakeSimilarButNotIdenticalImagesAndTheSeedMatters()
    {
        DiffusionScheduler s = SchedulerFactory.Create(SchedulerFactory.Ddpm, SchedulerTestKit.Sd15, 20);
        HierarchicalPlan plan = HierarchicalPlan.Build(Tree, 1.0, 20);
        float[][] a = new PlanSampler(s, new CountingDenoiser(), new EmbeddingConditioning(Embeddings), 1).RunHierarchical(plan, Latent);
        float[][] b = new PlanSampler(s, new CountingDenoiser(), new EmbeddingConditioning(Embeddings), 2).RunHierarchical(plan, Latent);
        Assert.NotEqual(a[0], b[0]);
        Assert.NotEqual(a[0], a[1]);
    }

    [Fact]
    public void ASharedStartingLatentGivesEveryPromptPromptZerosStartAndKeepsTauZeroEqualToStandard()
    {
        DiffusionScheduler s = SchedulerFactory.Create(SchedulerFactory.Ddpm, SchedulerTestKit.Sd15, 10);
        var shared = new PlanSampler(s, new CountingDenoiser(), new EmbeddingConditioning(Embeddings), Seed) { SharedStartingLatent = true };
        var own = new PlanSampler(s, new CountingDenoiser(), new EmbeddingConditioning(Embeddings), Seed);

        // One deterministic (DDIM) step from the start: with the same conditioning, the same start gives the same latent.
        DiffusionScheduler ddim = SchedulerFactory.Create(SchedulerFactory.Ddim, SchedulerTestKit.Sd15, 10);
        var first = new PlanSegment(0, 0, 1, -1, [0], 0);
        var other = new PlanSegment(5, 0, 1, -1, [5], 0);
        double[] row0 = Embeddings.Row(0).ToArray();
        var sameConditioning = new EmbeddingConditioning(new EmbeddingMatrix(12, row0.Length, [.. Enumerable.Range(0, 12).SelectMany(_ => row0)]));
        var sharedOne = new PlanSampler(ddim, new CountingDenoiser(), sameConditioning, Seed) { SharedStartingLatent = true };
        var ownOne = new PlanSampler(ddim, new CountingDenoiser(), sameConditioning, Seed);
        float[] a = sharedOne.RunSegments([first], Latent, new Dictionary<int, byte[]>())[0].Trajectory.Latent;
        float[] b = sharedOne.RunSegments([other], Latent, new Dictionary<int, byte[]>())[0].Trajectory.Latent;
        Assert.NotEqual(a, ownOne.RunSegments([other], Latent, new Dictionary<int, byte[]>())[0].Trajectory.Latent);
        AssertBits(ownOne.RunSegments([first], Latent, new Dictionary<int, byte[]>())[0].Trajectory.Latent, a, "prompt 0 alone");
        Assert.Equal(a, b);

        float[][] hierarchical = shared.RunHierarchical(HierarchicalPlan.Build(Tree, 0, 10), Latent);
        float[][] standard = shared.RunStandard(Embeddings.Rows, Latent);
        float[][] perPrompt = own.RunStandard(Embeddings.Rows, Latent);
        for (int p = 0; p < Embeddings.Rows; p++)
        {
            AssertBits(standard[p], hierarchical[p], $"prompt {p}");
        }

        AssertBits(perPrompt[0], standard[0], "prompt 0, whose start is the shared one");
        Assert.NotEqual(perPrompt[1], standard[1]);
    }

    private static void AssertBits(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int j = 0; j < expected.Length; j++)
        {
            Assert.True(BitConverter.SingleToInt32Bits(expected[j]) == BitConverter.SingleToInt32Bits(actual[j]),
                $"{what}, element {j}: {expected[j]:R} != {actual[j]:R}");
        }
    }

    [Fact]
    public void ALatentThatTurnsNonFiniteStopsTheRunNamingTheNodeAndStep()
    {
        DiffusionScheduler s = SchedulerFactory.Create(SchedulerFactory.Ddim, SchedulerTestKit.Named("sd15"), 10);
        HierarchicalPlan plan = HierarchicalPlan.Build(Tree, 1.0, 10);
        var overflowing = new OverflowingDenoiser(fromCall: 3);

        var e = Assert.Throws<NonFiniteLatentException>(() =>
            new PlanSampler(s, overflowing, new EmbeddingConditioning(Embeddings), Seed).RunHierarchical(plan, Latent));

        Assert.Contains(plan.Segments, seg => seg.Node == e.Segment.Node && seg.Start <= 3 && seg.End > 3);
        Assert.Equal(3, e.Step);
        Assert.Contains($"node {e.Segment.Node} (prompt", e.Message);
        Assert.Contains("turned non-finite at step 4 of 10", e.Message);

        var part = new PlanSampler(s, new OverflowingDenoiser(fromCall: 0), new EmbeddingConditioning(Embeddings), Seed);
        Assert.Contains("at step 1 of 10", Assert.Throws<NonFiniteLatentException>(() => part.RunSegments([plan.Segments[0]], Latent, new Dictionary<int, byte[]>())).Message);
    }

    private sealed class NodeConditioning(Dictionary<int, float[]> byNode) : IConditioning
    {
        public float[] For(PlanSegment segment) => byNode[segment.Node];
    }

    /// <summary>A model that overflows after some calls, as a too-large guidance scale makes a real one do.</summary>
    private sealed class OverflowingDenoiser(int fromCall) : IDenoiser
    {
        private int _calls;

        public bool TimestepPerItem => true;

        public void Predict(IReadOnlyList<DenoiserInput> batch, IReadOnlyList<float[]> outputs)
        {
            bool overflow = _calls++ >= fromCall;
            for (int b = 0; b < batch.Count; b++)
            {
                SchedulerTestKit.FakeDenoiser(batch[b].Latent, batch[b].Timestep, batch[b].Conditioning, outputs[b]);
                if (overflow)
                {
                    outputs[b][0] = float.PositiveInfinity;
                }
            }
        }
    }

    /// <summary>The fake model, recording each call's timesteps and, per item, its timestep and first latent value.</summary>
    private sealed class RecordingDenoiser(bool timestepPerItem) : IDenoiser
    {
        private readonly CountingDenoiser _model = new(timestepPerItem);

        public bool TimestepPerItem => timestepPerItem;

        public List<double[]> Calls { get; } = [];

        public List<(double Timestep, float Latent)> Inputs { get; } = [];

        public void Predict(IReadOnlyList<DenoiserInput> batch, IReadOnlyList<float[]> outputs)
        {
            Calls.Add([.. batch.Select(b => b.Timestep)]);
            Inputs.AddRange(batch.Select(b => (b.Timestep, b.Latent[0])));
            _model.Predict(batch, outputs);
        }
    }

    /// <summary>The scheduler tests' fake model, as a batched denoiser that counts its items.</summary>
    private sealed class CountingDenoiser(bool timestepPerItem = true) : IDenoiser
    {
        public long Calls { get; private set; }

        public bool TimestepPerItem => timestepPerItem;

        public void Predict(IReadOnlyList<DenoiserInput> batch, IReadOnlyList<float[]> outputs)
        {
            for (int b = 0; b < batch.Count; b++)
            {
                SchedulerTestKit.FakeDenoiser(batch[b].Latent, batch[b].Timestep, batch[b].Conditioning, outputs[b]);
                Calls++;
            }
        }
    }
}
