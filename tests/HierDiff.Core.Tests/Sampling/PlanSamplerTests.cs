using HierDiff.Core.Clustering;
using HierDiff.Core.Embeddings;
using HierDiff.Core.Planning;
using HierDiff.Core.Sampling;
using HierDiff.Core.Schedulers;
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

        float[][] hierarchical = sampler.RunHierarchical(HierarchicalPlan.Build(Tree, 0, 10), Latent);
        float[][] standard = sampler.RunStandard(Embeddings.Rows, Latent);

        for (int p = 0; p < Embeddings.Rows; p++)
        {
            AssertBits(standard[p], hierarchical[p], $"prompt {p}");
        }

        Assert.Equal(2 * 10 * 12, model.Calls);
    }

    [Theory]
    [MemberData(nameof(Schedulers))]
    public void RunningSegmentBySegmentThroughBytesEqualsRunningInOneProcess(string scheduler, string config)
    {
        DiffusionScheduler s = SchedulerFactory.Create(scheduler, SchedulerTestKit.Named(config), 12);
        var conditioning = new EmbeddingConditioning(Embeddings);
        HierarchicalPlan plan = HierarchicalPlan.Build(Tree, 1.0, 12);
        Assert.Contains(plan.Segments, seg => seg.StartStep > 0);

        float[][] inProcess = new PlanSampler(s, new CountingDenoiser(), conditioning, Seed).RunHierarchical(plan, Latent);

        // Each segment on a "different worker": a new scheduler instance, the source's bytes as its only input.
        var store = new Dictionary<int, byte[]>();
        var images = new float[Embeddings.Rows][];
        foreach (PlanSegment segment in plan.Segments)
        {
            var worker = new SegmentWorker(SchedulerFactory.Create(scheduler, SchedulerTestKit.Named(config), 12), new CountingDenoiser(), conditioning, Seed);
            Trajectory done = worker.Run(segment, Latent, segment.Source >= 0 ? store[segment.Source] : null);
            store[segment.Node] = done.ToBytes();
            if (segment.EndStep == plan.Steps)
            {
                foreach (int p in segment.Members)
                {
                    images[p] = Trajectory.FromBytes(store[segment.Node]).Latent;
                }
            }
        }

        for (int p = 0; p < Embeddings.Rows; p++)
        {
            AssertBits(inProcess[p], images[p], $"prompt {p}");
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

    private static void AssertBits(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int j = 0; j < expected.Length; j++)
        {
            Assert.True(BitConverter.SingleToInt32Bits(expected[j]) == BitConverter.SingleToInt32Bits(actual[j]),
                $"{what}, element {j}: {expected[j]:R} != {actual[j]:R}");
        }
    }

    /// <summary>The scheduler tests' fake model, as a batched denoiser that counts its items.</summary>
    [Fact]
    public void ALatentThatTurnsNonFiniteStopsTheRunNamingTheNodeAndStep()
    {
        DiffusionScheduler s = SchedulerFactory.Create(SchedulerFactory.Ddim, SchedulerTestKit.Named("sd15"), 10);
        HierarchicalPlan plan = HierarchicalPlan.Build(Tree, 1.0, 10);
        var overflowing = new OverflowingDenoiser(fromCall: 3);

        var e = Assert.Throws<NonFiniteLatentException>(() =>
            new PlanSampler(s, overflowing, new EmbeddingConditioning(Embeddings), Seed).RunHierarchical(plan, Latent));

        Assert.Contains(plan.Segments, seg => seg.Node == e.Segment.Node && seg.StartStep <= 3 && seg.EndStep > 3);
        Assert.Equal(3, e.Step);
        Assert.Contains($"node {e.Segment.Node} (prompt", e.Message);
        Assert.Contains("turned non-finite at step 4 of 10", e.Message);

        var worker = new SegmentWorker(s, new OverflowingDenoiser(fromCall: 0), new EmbeddingConditioning(Embeddings), Seed);
        Assert.Contains("at step 1 of 10", Assert.Throws<NonFiniteLatentException>(() => worker.Run(plan.Segments[0], Latent, null)).Message);
    }

    /// <summary>A model that overflows after some calls, as a too-large guidance scale makes a real one do.</summary>
    private sealed class OverflowingDenoiser(int fromCall) : IDenoiser
    {
        private int _calls;

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

    private sealed class CountingDenoiser : IDenoiser
    {
        public long Calls { get; private set; }

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
