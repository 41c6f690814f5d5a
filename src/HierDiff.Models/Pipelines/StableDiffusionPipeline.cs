using System.Diagnostics;
using HierDiff.Core;
using HierDiff.Core.Clustering;
using HierDiff.Core.Embeddings;
using HierDiff.Core.Planning;
using HierDiff.Core.Sampling;
using HierDiff.Core.Schedulers;
using HierDiff.Models.Images;

namespace HierDiff.Models.Pipelines;

/// <summary>Where a run is: the phase, and how far through it (for progress bars).</summary>
public readonly record struct GenerationProgress(string Phase, long Done, long Total);

/// <summary>Seconds spent in each phase of a run.</summary>
public sealed record GenerationTimings(double EncodeSeconds, double ClusterSeconds, double DenoiseSeconds, double DecodeSeconds);

/// <summary>What a run produced: an image per prompt, in prompt order, and what it cost.</summary>
public sealed record GenerationResult(
    IReadOnlyList<EncodedPrompt> Prompts,
    IReadOnlyList<RgbImage> Images,
    HierarchicalPlan? Plan,
    double Tau,
    string Scheduler,
    long DenoiserCalls,
    long StandardDenoiserCalls,
    GenerationTimings Timings)
{
    public double Savings => 1.0 - ((double)DenoiserCalls / StandardDenoiserCalls);
}

/// <summary>
/// Text to images with a Stable Diffusion export: encode the prompts, cluster them on their pooled embeddings,
/// plan, denoise every active cluster of a step in batches (a cluster conditioned on the mean of its prompts'
/// token embeddings), and decode. With <see cref="GenerationMode.Standard"/> or tau = 0 it is plain Stable Diffusion.
/// </summary>
public sealed class StableDiffusionPipeline(StableDiffusionModel model)
{
    public GenerationResult Generate(IReadOnlyList<string> prompts, GenerationOptions options, Action<GenerationProgress>? progress = null)
    {
        options.Validate();
        if (prompts.Count == 0)
        {
            throw new HierDiffInputException("no prompts to generate");
        }

        string schedulerName = options.Scheduler ?? SchedulerFactory.NameForClass(model.SchedulerConfig.ClassName) ?? SchedulerFactory.Ddpm;
        DiffusionScheduler scheduler = SchedulerFactory.Create(schedulerName, model.SchedulerConfig, options.Steps);
        var clock = Stopwatch.StartNew();

        progress?.Invoke(new GenerationProgress("encode", 0, prompts.Count));
        IReadOnlyList<EncodedPrompt> encoded = model.TextEncoder.Encode(prompts);
        float[] unconditional = model.TextEncoder.Encode([options.NegativePrompt])[0].HiddenStates;
        double encode = Lap(clock);

        HierarchicalPlan? plan = null;
        double tau = 0;
        if (options.Mode == GenerationMode.Hierarchical)
        {
            progress?.Invoke(new GenerationProgress("cluster", 0, prompts.Count));
            Linkage tree = WardLinkage.FromEmbeddings(PooledEmbeddings(encoded));
            tau = options.TargetSavings is double target
                ? TauSearch.SmallestTauForSavings(tree, options.Steps, target)
                : options.Tau ?? GenerationOptions.DefaultTau;
            plan = HierarchicalPlan.Build(tree, tau, options.Steps);
        }

        double cluster = Lap(clock);

        long standardCalls = (long)options.Steps * prompts.Count;
        long totalCalls = plan?.DenoiserCalls ?? standardCalls;
        long done = 0;
        var denoiser = new GuidedDenoiser(model.UNet, unconditional, options.Guidance, model.LatentHeight, model.LatentWidth);
        var conditioning = new MeanConditioning(encoded.Select(e => e.HiddenStates).ToArray());
        var sampler = new PlanSampler(scheduler, denoiser, conditioning, options.Seed, options.MaxBatch)
        {
            OnBatchDone = items => progress?.Invoke(new GenerationProgress("denoise", done += items, totalCalls)),
        };
        progress?.Invoke(new GenerationProgress("denoise", 0, totalCalls));
        float[][] latents = plan is null
            ? sampler.RunStandard(prompts.Count, model.LatentLength)
            : sampler.RunHierarchical(plan, model.LatentLength);
        double denoise = Lap(clock);

        progress?.Invoke(new GenerationProgress("decode", 0, prompts.Count));
        RgbImage[] images = DecodeDistinct(latents);
        double decode = Lap(clock);
        progress?.Invoke(new GenerationProgress("decode", prompts.Count, prompts.Count));

        return new GenerationResult(encoded, images, plan, tau, schedulerName, totalCalls, standardCalls,
            new GenerationTimings(encode, cluster, denoise, decode));
    }

    /// <summary>The pooled text embeddings as the matrix the tree is built on (cosine distances, in double).</summary>
    public static EmbeddingMatrix PooledEmbeddings(IReadOnlyList<EncodedPrompt> encoded)
    {
        int width = encoded[0].Pooled.Length;
        var data = new double[encoded.Count * width];
        for (int i = 0; i < encoded.Count; i++)
        {
            for (int j = 0; j < width; j++)
            {
                data[(i * width) + j] = encoded[i].Pooled[j];
            }
        }

        return new EmbeddingMatrix(encoded.Count, width, data, "the prompts' pooled text embeddings");
    }

    /// <summary>Prompts that end in one shared latent share one decode.</summary>
    private RgbImage[] DecodeDistinct(float[][] latents)
    {
        var distinct = new List<float[]>();
        var index = new Dictionary<float[], int>(ReferenceEqualityComparer.Instance);
        foreach (float[] latent in latents)
        {
            if (index.TryAdd(latent, distinct.Count))
            {
                distinct.Add(latent);
            }
        }

        IReadOnlyList<RgbImage> decoded = model.Vae.Decode(distinct, model.LatentChannels, model.LatentHeight, model.LatentWidth);
        return latents.Select(l => decoded[index[l]]).ToArray();
    }

    private static double Lap(Stopwatch clock)
    {
        double seconds = clock.Elapsed.TotalSeconds;
        clock.Restart();
        return seconds;
    }
}
