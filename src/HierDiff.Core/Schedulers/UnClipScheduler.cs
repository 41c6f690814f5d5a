using System.Globalization;
using System.Text.Json;
using HierDiff.Core.Noise;

namespace HierDiff.Core.Schedulers;

/// <summary>
/// diffusers' <c>UnCLIPScheduler</c> (schedulers/scheduling_unclip.py), the scheduler of Kandinsky 2.2's prior: a
/// DDPM variant over the squaredcos_cap_v2 betas with karlo's timestep spacing and variance "fixed_small_log".
/// It denoises the prior's image embedding inside a model family's encoding, not the image latents, so it is not a
/// <see cref="DiffusionScheduler"/> and has no row in the <see cref="SchedulerRegistry"/>: runs never choose it.
/// </summary>
public sealed class UnClipScheduler
{
    private readonly float[] _betas;
    private readonly float[] _alphasCumprod;
    private readonly int[] _timesteps;

    public UnClipScheduler(UnClipConfig config, int numInferenceSteps)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (numInferenceSteps < 2 || numInferenceSteps > config.NumTrainTimesteps)
        {
            // set_timesteps divides by (steps - 1).
            throw new HierDiffInputException($"{config.Source}: the prior takes 2 to {config.NumTrainTimesteps} steps, not {numInferenceSteps}");
        }

        Config = config;
        int count = config.NumTrainTimesteps;

        // betas_for_alpha_bar(num_train_timesteps), cosine: min(1 - alpha_bar(t2) / alpha_bar(t1), 0.999), made a
        // float32 tensor; alphas_cumprod is torch.cumprod over float32 (accumulated in double on the CPU). The
        // schedule is kept in float32 as diffusers has it: at t = 0, 1 - alphas_cumprod[0] loses most of beta's digits,
        // and the step's coefficients inherit that (5e-4 of the last step's output).
        static double AlphaBar(double t) => Math.Pow(Math.Cos((t + 0.008) / 1.008 * Math.PI / 2), 2);
        _betas = new float[count];
        _alphasCumprod = new float[count];
        double product = 1.0;
        for (int i = 0; i < count; i++)
        {
            _betas[i] = (float)Math.Min(1 - (AlphaBar((i + 1.0) / count) / AlphaBar((double)i / count)), 0.999);
            product *= 1f - _betas[i];
            _alphasCumprod[i] = (float)product;
        }

        // set_timesteps: step_ratio = (T - 1) / (steps - 1); (arange(steps) * step_ratio).round(), reversed.
        double ratio = (count - 1.0) / (numInferenceSteps - 1.0);
        _timesteps = new int[numInferenceSteps];
        for (int i = 0; i < numInferenceSteps; i++)
        {
            _timesteps[numInferenceSteps - 1 - i] = (int)Math.Round(i * ratio, MidpointRounding.ToEven);
        }
    }

    public UnClipConfig Config { get; }

    /// <summary>The timesteps, from the noisiest to 0.</summary>
    public IReadOnlyList<int> Timesteps => _timesteps;

    /// <summary>init_noise_sigma: the initial sample is standard normal noise as drawn.</summary>
    public static double InitNoiseSigma => 1.0;

    /// <summary>
    /// One <c>step</c> of diffusers' UnCLIPScheduler at step index <paramref name="stepIndex"/>, with the previous
    /// timestep as KandinskyV22PriorPipeline passes it (the next one of the schedule, none after the last):
    /// <paramref name="sample"/> becomes the previous sample. The variance noise (every step but t = 0) is draw
    /// <see cref="NoiseStream.StepDraw"/> of <paramref name="noise"/>, laid out as the sample.
    /// </summary>
    public void Step(int stepIndex, ReadOnlySpan<float> modelOutput, Span<float> sample, NoiseStream noise)
    {
        var drawn = new float[_timesteps[stepIndex] > 0 ? sample.Length : 0];
        noise.Fill(drawn, NoiseStream.StepDraw(stepIndex));
        Step(stepIndex, modelOutput, sample, drawn);
    }

    /// <summary>The same step with the variance noise given (unused at t = 0, where it may be empty).</summary>
    public void Step(int stepIndex, ReadOnlySpan<float> modelOutput, Span<float> sample, ReadOnlySpan<float> varianceNoise)
    {
        int t = _timesteps[stepIndex];
        int prev = stepIndex + 1 < _timesteps.Length ? _timesteps[stepIndex + 1] : t - 1;

        // In float32, as diffusers' tensors are.
        float alphaProdT = _alphasCumprod[t];
        float alphaProdPrev = prev >= 0 ? _alphasCumprod[prev] : 1f;
        float betaProdT = 1f - alphaProdT;
        float betaProdPrev = 1f - alphaProdPrev;
        float beta = prev == t - 1 ? _betas[t] : 1f - (alphaProdT / alphaProdPrev);
        float alpha = 1f - beta;

        // Formula (7) of the DDPM paper, as step computes it: the posterior mean from x0 and x_t.
        float originalCoeff = MathF.Sqrt(alphaProdPrev) * beta / betaProdT;
        float sampleCoeff = MathF.Sqrt(alpha) * betaProdPrev / betaProdT;
        float sqrtAlphaProdT = MathF.Sqrt(alphaProdT), sqrtBetaProdT = MathF.Sqrt(betaProdT);

        // _get_variance, fixed_small_log: exp(0.5 log(max(variance, 1e-20))), the standard deviation.
        float deviation = t > 0 ? MathF.Exp(0.5f * MathF.Log(MathF.Max(betaProdPrev / betaProdT * beta, 1e-20f))) : 0f;
        float range = (float)Config.ClipSampleRange;
        for (int j = 0; j < sample.Length; j++)
        {
            float x = sample[j];
            float original = Config.PredictionType == PredictionType.Sample
                ? modelOutput[j]
                : (x - (sqrtBetaProdT * modelOutput[j])) / sqrtAlphaProdT;
            if (Config.ClipSample)
            {
                original = Math.Clamp(original, -range, range);
            }

            float previous = (originalCoeff * original) + (sampleCoeff * x);
            if (t > 0)
            {
                previous += deviation * varianceNoise[j];
            }

            sample[j] = previous;
        }
    }
}

/// <summary>The options of an UnCLIPScheduler <c>scheduler_config.json</c> that HierDiff implements: the others
/// (variance_type learned_range, another beta_schedule) are refused.</summary>
public sealed record UnClipConfig
{
    public string Source { get; init; } = "UnCLIPScheduler config";

    public int NumTrainTimesteps { get; init; } = 1000;

    /// <summary>epsilon or sample (Kandinsky 2.2's prior predicts the sample).</summary>
    public PredictionType PredictionType { get; init; } = PredictionType.Epsilon;

    public bool ClipSample { get; init; } = true;

    public double ClipSampleRange { get; init; } = 1.0;

    /// <summary>Reads a <c>scheduler_config.json</c> whose <c>_class_name</c> is UnCLIPScheduler.</summary>
    public static UnClipConfig Load(string path)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllBytes(path));
        }
        catch (JsonException e)
        {
            throw new HierDiffInputException($"{path}: not valid JSON ({e.Message.Split('.')[0]})", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new HierDiffInputException($"{path}: cannot read the file ({e.Message})", e);
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new HierDiffInputException($"{path}: expected a JSON object");
            }

            string? Text(string key) => root.TryGetProperty(key, out JsonElement v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
            string className = Text("_class_name") ?? "(none)";
            if (className != "UnCLIPScheduler")
            {
                throw new HierDiffInputException($"{path}: _class_name is {className}; expected UnCLIPScheduler (the prior's scheduler)");
            }

            if (Text("beta_schedule") is string schedule && schedule != "squaredcos_cap_v2")
            {
                throw new HierDiffInputException($"{path}: beta_schedule is {schedule}; UnCLIPScheduler supports only squaredcos_cap_v2");
            }

            if (Text("variance_type") is string variance && variance != "fixed_small_log")
            {
                throw new HierDiffInputException($"{path}: variance_type is {variance}; HierDiff implements fixed_small_log (the prior predicts no variance)");
            }

            var config = new UnClipConfig { Source = path };
            if (Text("prediction_type") is string prediction)
            {
                config = config with
                {
                    PredictionType = prediction switch
                    {
                        "epsilon" => PredictionType.Epsilon,
                        "sample" => PredictionType.Sample,
                        _ => throw new HierDiffInputException($"{path}: prediction_type is {prediction}; UnCLIPScheduler takes epsilon or sample"),
                    },
                };
            }

            if (root.TryGetProperty("num_train_timesteps", out JsonElement steps) && steps.ValueKind != JsonValueKind.Null)
            {
                config = config with
                {
                    NumTrainTimesteps = steps.TryGetInt32(out int n) && n is >= 2 and <= 100_000
                        ? n
                        : throw new HierDiffInputException($"{path}: num_train_timesteps must be a whole number from 2 to 100000, not {steps.GetRawText()}"),
                };
            }

            if (root.TryGetProperty("clip_sample", out JsonElement clip) && clip.ValueKind is JsonValueKind.True or JsonValueKind.False)
            {
                config = config with { ClipSample = clip.GetBoolean() };
            }

            if (root.TryGetProperty("clip_sample_range", out JsonElement range) && range.ValueKind != JsonValueKind.Null)
            {
                config = config with
                {
                    ClipSampleRange = range.ValueKind == JsonValueKind.Number && range.GetDouble() > 0
                        ? range.GetDouble()
                        : throw new HierDiffInputException($"{path}: clip_sample_range must be a positive number, not {range.GetRawText()}"),
                };
            }

            return config;
        }
    }

    public override string ToString() => string.Create(
        CultureInfo.InvariantCulture, $"UnCLIPScheduler({PredictionType}, clip {ClipSample} {ClipSampleRange}, T {NumTrainTimesteps})");
}
