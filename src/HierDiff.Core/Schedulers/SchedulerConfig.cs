using System.Globalization;
using System.Text;
using System.Text.Json;

namespace HierDiff.Core.Schedulers;

/// <summary>
/// The settings of a diffusers <c>scheduler_config.json</c> that the schedulers here implement.
/// </summary>
/// <remarks>
/// Unknown keys are ignored, as diffusers ignores keys a scheduler class does not take. Known diffusers options
/// that are implemented only at their default value (thresholding, trained_betas, use_exponential_sigmas, ...)
/// are remembered when a file sets them otherwise, and refused by the schedulers that would have used them
/// (their rows in <see cref="SchedulerRegistry"/> list them); the other schedulers ignore them, as diffusers does.
/// Options implemented since (rescale_betas_zero_snr, use_karras_sigmas, the solvers' options, ...) are null when
/// the file does not set them, and read only by the schedulers whose class takes them.
/// <see cref="TimestepSpacing"/> and <see cref="ClipSample"/> are null when the file does not set them:
/// diffusers' default differs per scheduler class, and each scheduler fills in its own.
/// </remarks>
public sealed record SchedulerConfig
{
    /// <summary>The <see cref="Source"/> of a config made in code rather than read from a file.</summary>
    public const string DefaultSource = "scheduler config";

    /// <summary>Where the config came from, for error messages (a file path, or <see cref="DefaultSource"/>).</summary>
    public string Source { get; init; } = DefaultSource;

    /// <summary><c>_class_name</c>: the diffusers scheduler class, if the file names one.</summary>
    public string? ClassName { get; init; }

    /// <summary><c>num_train_timesteps</c> (T).</summary>
    public int NumTrainTimesteps { get; init; } = 1000;

    /// <summary><c>beta_start</c>.</summary>
    public double BetaStart { get; init; } = 0.0001;

    /// <summary><c>beta_end</c>.</summary>
    public double BetaEnd { get; init; } = 0.02;

    /// <summary><c>beta_schedule</c>.</summary>
    public BetaSchedule BetaSchedule { get; init; } = BetaSchedule.Linear;

    /// <summary><c>prediction_type</c>. Flow matching ignores it: its denoiser always predicts the velocity.</summary>
    public PredictionType PredictionType { get; init; } = PredictionType.Epsilon;

    /// <summary><c>timestep_spacing</c>; null: the scheduler's diffusers default (leading for DDPM and DDIM,
    /// linspace for Euler, Euler ancestral and DPM-Solver).</summary>
    public TimestepSpacing? TimestepSpacing { get; init; }

    /// <summary><c>steps_offset</c>, added to leading timesteps.</summary>
    public int StepsOffset { get; init; }

    /// <summary><c>set_alpha_to_one</c> (DDIM, PNDM): whether the step after the last uses alpha_cumprod 1; null:
    /// the diffusers default, true for DDIM and false for PNDM.</summary>
    public bool? SetAlphaToOne { get; init; }

    /// <summary><c>skip_prk_steps</c> (PNDM): PLMS from the first step, as Stable Diffusion's configs ask; null:
    /// the diffusers default, false.</summary>
    public bool? SkipPrkSteps { get; init; }

    /// <summary><c>clip_sample</c> (DDPM, DDIM); null: the diffusers default, true for both.</summary>
    public bool? ClipSample { get; init; }

    /// <summary><c>clip_sample_range</c>.</summary>
    public double ClipSampleRange { get; init; } = 1.0;

    /// <summary><c>shift</c> (flow matching).</summary>
    public double Shift { get; init; } = 1.0;

    // Options implemented since the fingerprint format was fixed: null when the file does not set them (the
    // diffusers default applies), and part of a fingerprint only where set and only for the schedulers that take them.

    /// <summary><c>rescale_betas_zero_snr</c>: rescale the betas to zero terminal SNR ("Common Diffusion Noise
    /// Schedules and Sample Steps are Flawed", algorithm 1); null: false.</summary>
    public bool? RescaleBetasZeroSnr { get; init; }

    /// <summary><c>use_karras_sigmas</c>: the sigmas of Karras et al. (2022), rho 7; null: false.</summary>
    public bool? UseKarrasSigmas { get; init; }

    /// <summary><c>final_sigmas_type</c>: the sigma after the last step, 0 or the smallest training sigma;
    /// null: zero.</summary>
    public FinalSigmasType? FinalSigmasType { get; init; }

    /// <summary><c>algorithm_type</c> (DPM-Solver) as written; each scheduler checks the values it knows.</summary>
    public string? AlgorithmType { get; init; }

    /// <summary><c>solver_order</c> (DPM-Solver, UniPC).</summary>
    public int? SolverOrder { get; init; }

    /// <summary><c>solver_type</c> (DPM-Solver: midpoint, heun; UniPC: bh1, bh2) as written.</summary>
    public string? SolverType { get; init; }

    /// <summary><c>lower_order_final</c> (DPM-Solver, UniPC); null: true.</summary>
    public bool? LowerOrderFinal { get; init; }

    /// <summary><c>euler_at_final</c> (DPM-Solver); null: false.</summary>
    public bool? EulerAtFinal { get; init; }

    /// <summary><c>predict_x0</c> (UniPC); null: true.</summary>
    public bool? PredictX0 { get; init; }

    /// <summary><c>disable_corrector</c> (UniPC): the step indices that skip the corrector; null: none.</summary>
    public IReadOnlyList<int>? DisableCorrector { get; init; }

    /// <summary>Known options set to a value that is not implemented: key to the value as written.</summary>
    internal IReadOnlyDictionary<string, string> UnsupportedOptions { get; init; } = new Dictionary<string, string>();

    /// <summary>Reads and parses a <c>scheduler_config.json</c>.</summary>
    /// <exception cref="HierDiffInputException">The file cannot be read, or a value is wrong or unsupported.</exception>
    public static SchedulerConfig Load(string path)
    {
        string json;
        try
        {
            json = File.ReadAllText(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new HierDiffInputException($"{path}: file not found", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new HierDiffInputException($"{path}: cannot read the file ({e.Message})", e);
        }

        return Parse(json, path);
    }

    /// <summary>Parses the text of a <c>scheduler_config.json</c>; <paramref name="sourceName"/> names it in errors.</summary>
    /// <exception cref="HierDiffInputException">Not JSON, or a value is wrong or unsupported.</exception>
    public static SchedulerConfig Parse(string json, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(sourceName);
        JsonDocument document;
        try
        {
            var options = new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip };
            document = JsonDocument.Parse(QuoteNonFiniteNumbers(json), options);
        }
        catch (JsonException e)
        {
            throw new HierDiffInputException($"{sourceName}: not valid JSON ({e.Message})", e);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new HierDiffInputException($"{sourceName}: expected a JSON object, found {Describe(root.ValueKind)}");
            }

            var config = new SchedulerConfig { Source = sourceName };
            var unsupported = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var property in root.EnumerateObject())
            {
                var value = property.Value;
                if (value.ValueKind == JsonValueKind.Null)
                {
                    // diffusers writes None for "not set"; the default applies.
                    continue;
                }

                var reader = new ValueReader(sourceName, property.Name, value);
                config = property.Name switch
                {
                    "_class_name" => config with { ClassName = reader.String() },
                    "num_train_timesteps" => config with { NumTrainTimesteps = reader.Int() },
                    "beta_start" => config with { BetaStart = reader.Double() },
                    "beta_end" => config with { BetaEnd = reader.Double() },
                    "beta_schedule" => config with { BetaSchedule = reader.Choice(BetaScheduleNames) },
                    "prediction_type" => config with { PredictionType = reader.Choice(PredictionTypeNames) },
                    "timestep_spacing" => config with { TimestepSpacing = reader.Choice(TimestepSpacingNames) },
                    "steps_offset" => config with { StepsOffset = reader.Int() },
                    "set_alpha_to_one" => config with { SetAlphaToOne = reader.Bool() },
                    "skip_prk_steps" => config with { SkipPrkSteps = reader.Bool() },
                    "clip_sample" => config with { ClipSample = reader.Bool() },
                    "clip_sample_range" => config with { ClipSampleRange = reader.Double() },
                    "shift" => config with { Shift = reader.Double() },
                    "rescale_betas_zero_snr" => config with { RescaleBetasZeroSnr = reader.Bool() },
                    "use_karras_sigmas" => config with { UseKarrasSigmas = reader.Bool() },
                    "final_sigmas_type" => config with { FinalSigmasType = reader.Choice(FinalSigmasTypeNames) },
                    "algorithm_type" => config with { AlgorithmType = reader.String() },
                    "solver_order" => config with { SolverOrder = reader.Int() },
                    "solver_type" => config with { SolverType = reader.String() },
                    "lower_order_final" => config with { LowerOrderFinal = reader.Bool() },
                    "euler_at_final" => config with { EulerAtFinal = reader.Bool() },
                    "predict_x0" => config with { PredictX0 = reader.Bool() },
                    "disable_corrector" => config with { DisableCorrector = reader.IntList() },
                    _ => config,
                };

                // Remembered for every scheduler; each refuses only the ones its diffusers class takes.
                var fixedOption = SchedulerRegistry.Default.FindFixedOption(property.Name);
                if (fixedOption is not null && !fixedOption.IsSupported(value))
                {
                    unsupported[property.Name] = value.GetRawText();
                }
            }

            config = config with { UnsupportedOptions = unsupported };
            config.Validate();
            return config;
        }
    }

    /// <summary>The cumulative products of (1 - beta) for t = 0..T-1, in double, as diffusers' DDPM and DDIM make
    /// them (with zero terminal SNR the last is 0).</summary>
    public double[] ComputeAlphasCumprod()
    {
        int count = NumTrainTimesteps;
        double[] betas;
        switch (BetaSchedule)
        {
            case BetaSchedule.ScaledLinear:
                betas = NumPyMath.Linspace(Math.Sqrt(BetaStart), Math.Sqrt(BetaEnd), count);
                for (int i = 0; i < count; i++)
                {
                    betas[i] *= betas[i];
                }

                break;

            case BetaSchedule.SquaredCosCapV2:
                // diffusers betas_for_alpha_bar with the cosine transform and max_beta 0.999.
                betas = new double[count];
                for (int i = 0; i < count; i++)
                {
                    betas[i] = Math.Min(1 - (CosineAlphaBar((i + 1.0) / count) / CosineAlphaBar((double)i / count)), 0.999);
                }

                break;

            default:
                betas = NumPyMath.Linspace(BetaStart, BetaEnd, count);
                break;
        }

        if (RescaleBetasZeroSnr == true)
        {
            betas = RescaleZeroTerminalSnr(betas);
        }

        return CumulativeProduct(betas);
    }

    /// <summary><see cref="ComputeAlphasCumprod"/> as diffusers' sigma-based schedulers (Euler, DPM-Solver, UniPC)
    /// make it: with zero terminal SNR the last is 2^-24, "close to 0 without being 0 so first sigma is not inf".</summary>
    internal double[] ComputeSigmaAlphasCumprod()
    {
        double[] alphasCumprod = ComputeAlphasCumprod();
        if (RescaleBetasZeroSnr == true)
        {
            alphasCumprod[^1] = Math.Pow(2, -24);
        }

        return alphasCumprod;
    }

    private static double CosineAlphaBar(double t)
    {
        double c = Math.Cos((t + 0.008) / 1.008 * Math.PI / 2);
        return c * c;
    }

    /// <summary>diffusers rescale_zero_terminal_snr: shift sqrt(alpha_bar) so the last is 0, scale it so the first
    /// is unchanged, and turn it back into betas.</summary>
    private static double[] RescaleZeroTerminalSnr(double[] betas)
    {
        double[] sqrtAlphaBar = CumulativeProduct(betas);
        for (int i = 0; i < sqrtAlphaBar.Length; i++)
        {
            sqrtAlphaBar[i] = Math.Sqrt(sqrtAlphaBar[i]);
        }

        double first = sqrtAlphaBar[0];
        double last = sqrtAlphaBar[^1];
        var rescaled = new double[betas.Length];
        double previousAlphaBar = 1.0;
        for (int i = 0; i < betas.Length; i++)
        {
            double shifted = (sqrtAlphaBar[i] - last) * (first / (first - last));
            double alphaBar = shifted * shifted;
            rescaled[i] = 1 - (i == 0 ? alphaBar : alphaBar / previousAlphaBar);
            previousAlphaBar = alphaBar;
        }

        return rescaled;
    }

    private static double[] CumulativeProduct(double[] betas)
    {
        var alphasCumprod = new double[betas.Length];
        double product = 1.0;
        for (int i = 0; i < betas.Length; i++)
        {
            product *= 1.0 - betas[i];
            alphasCumprod[i] = product;
        }

        return alphasCumprod;
    }

    /// <summary>Checks value ranges (a config made in code skips <see cref="Parse"/>).</summary>
    /// <exception cref="HierDiffInputException">A value is out of range.</exception>
    public void Validate()
    {
        if (NumTrainTimesteps is < 1 or > 1_000_000)
        {
            throw Invalid("num_train_timesteps", NumTrainTimesteps, "must be between 1 and 1000000");
        }

        if (!(BetaStart > 0 && BetaStart < 1))
        {
            throw Invalid("beta_start", BetaStart, "must be above 0 and below 1");
        }

        if (!(BetaEnd > 0 && BetaEnd < 1))
        {
            throw Invalid("beta_end", BetaEnd, "must be above 0 and below 1");
        }

        if (StepsOffset < 0)
        {
            throw Invalid("steps_offset", StepsOffset, "must not be negative");
        }

        if (!(ClipSampleRange > 0 && double.IsFinite(ClipSampleRange)))
        {
            throw Invalid("clip_sample_range", ClipSampleRange, "must be a positive number");
        }

        if (!(Shift > 0 && double.IsFinite(Shift)))
        {
            throw Invalid("shift", Shift, "must be a positive number");
        }

        if (SolverOrder is < 1)
        {
            throw Invalid("solver_order", SolverOrder, "must be at least 1");
        }

        if (!Enum.IsDefined(BetaSchedule) || !Enum.IsDefined(PredictionType)
            || (TimestepSpacing is { } spacing && !Enum.IsDefined(spacing))
            || (FinalSigmasType is { } finalSigmas && !Enum.IsDefined(finalSigmas)))
        {
            throw new HierDiffInputException($"{Source}: an enumeration value is undefined");
        }
    }

    /// <summary>Every value that affects results, in a fixed order (for state fingerprints).</summary>
    internal string Describe()
    {
        var builder = new StringBuilder();
        builder.Append(CultureInfo.InvariantCulture, $"num_train_timesteps={NumTrainTimesteps};");
        builder.Append(CultureInfo.InvariantCulture, $"beta_start={BetaStart:R};beta_end={BetaEnd:R};");
        builder.Append(CultureInfo.InvariantCulture, $"beta_schedule={Name(BetaScheduleNames, BetaSchedule)};");
        builder.Append(CultureInfo.InvariantCulture, $"prediction_type={Name(PredictionTypeNames, PredictionType)};");
        string spacing = TimestepSpacing is { } s ? Name(TimestepSpacingNames, s) : "default";
        builder.Append(CultureInfo.InvariantCulture, $"timestep_spacing={spacing};steps_offset={StepsOffset};");
        // Unset reads as true, as it did when the key was a plain bool, so fingerprints of earlier builds still hold;
        // PNDM, whose default is false, fills in its own before it fingerprints.
        builder.Append(CultureInfo.InvariantCulture, $"set_alpha_to_one={SetAlphaToOne ?? true};");
        builder.Append(CultureInfo.InvariantCulture, $"clip_sample={ClipSample?.ToString() ?? "default"};");
        builder.Append(CultureInfo.InvariantCulture, $"clip_sample_range={ClipSampleRange:R};shift={Shift:R}");
        return builder.ToString();
    }

    /// <summary>This config with the options added since fingerprint format 1 unset where they hold diffusers'
    /// default, so that writing a default equals leaving it out, in behaviour and in fingerprints (configs exported
    /// by diffusers write every default). solver_type's default differs per class: each scheduler unsets its own.</summary>
    internal SchedulerConfig WithDefaultsUnset() => this with
    {
        RescaleBetasZeroSnr = RescaleBetasZeroSnr == true ? true : null,
        UseKarrasSigmas = UseKarrasSigmas == true ? true : null,
        FinalSigmasType = FinalSigmasType == Schedulers.FinalSigmasType.SigmaMin ? FinalSigmasType : null,
        AlgorithmType = AlgorithmType == "dpmsolver++" ? null : AlgorithmType,
        SolverOrder = SolverOrder == 2 ? null : SolverOrder,
        LowerOrderFinal = LowerOrderFinal == false ? false : null,
        EulerAtFinal = EulerAtFinal == true ? true : null,
        PredictX0 = PredictX0 == false ? false : null,
        DisableCorrector = DisableCorrector is { Count: > 0 } ? DisableCorrector : null,
    };

    /// <summary>";key=value" for each of <paramref name="keys"/> that this config sets. Options added since the
    /// fingerprint format was fixed are described only by the schedulers that take them, and only when set, so
    /// that states made by earlier builds still resume.</summary>
    internal string DescribeSet(IEnumerable<string> keys)
    {
        var builder = new StringBuilder();
        foreach (string key in keys)
        {
            object? value = key switch
            {
                "skip_prk_steps" => SkipPrkSteps,
                "rescale_betas_zero_snr" => RescaleBetasZeroSnr,
                "use_karras_sigmas" => UseKarrasSigmas,
                "final_sigmas_type" => FinalSigmasType is { } f ? Name(FinalSigmasTypeNames, f) : null,
                "algorithm_type" => AlgorithmType,
                "solver_order" => SolverOrder,
                "solver_type" => SolverType,
                "lower_order_final" => LowerOrderFinal,
                "euler_at_final" => EulerAtFinal,
                "predict_x0" => PredictX0,
                "disable_corrector" => DisableCorrector is { } steps ? $"[{string.Join(",", steps)}]" : null,
                _ => throw new ArgumentOutOfRangeException(nameof(keys), key, "not an option added since fingerprint format 1"),
            };
            if (value is not null)
            {
                builder.Append(CultureInfo.InvariantCulture, $";{key}={value}");
            }
        }

        return builder.ToString();
    }

    private static readonly (string Name, BetaSchedule Value)[] BetaScheduleNames =
        [("linear", BetaSchedule.Linear), ("scaled_linear", BetaSchedule.ScaledLinear),
         ("squaredcos_cap_v2", BetaSchedule.SquaredCosCapV2)];

    private static readonly (string Name, FinalSigmasType Value)[] FinalSigmasTypeNames =
        [("zero", Schedulers.FinalSigmasType.Zero), ("sigma_min", Schedulers.FinalSigmasType.SigmaMin)];

    private static readonly (string Name, PredictionType Value)[] PredictionTypeNames =
        [("epsilon", PredictionType.Epsilon), ("v_prediction", PredictionType.VPrediction), ("sample", PredictionType.Sample)];

    private static readonly (string Name, TimestepSpacing Value)[] TimestepSpacingNames =
        [("leading", Schedulers.TimestepSpacing.Leading), ("trailing", Schedulers.TimestepSpacing.Trailing),
         ("linspace", Schedulers.TimestepSpacing.Linspace)];

    private static string Name<T>((string Name, T Value)[] names, T value)
        where T : struct, Enum => Array.Find(names, n => n.Value.Equals(value)).Name;

    private HierDiffInputException Invalid(string key, object value, string rule) =>
        new($"{Source}: key '{key}' is {Convert.ToString(value, CultureInfo.InvariantCulture)}; it {rule}");

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "null",
    };

    /// <summary>Python's json module writes NaN, Infinity and -Infinity bare (diffusers saves
    /// lambda_min_clipped = -inf that way), which is not JSON. Quote them so they parse as strings.</summary>
    private static string QuoteNonFiniteNumbers(string json)
    {
        if (!json.Contains("Infinity", StringComparison.Ordinal) && !json.Contains("NaN", StringComparison.Ordinal))
        {
            return json;
        }

        string[] tokens = ["-Infinity", "Infinity", "NaN"];
        var builder = new StringBuilder(json.Length + 16);
        bool inString = false;
        for (int i = 0; i < json.Length; i++)
        {
            char c = json[i];
            if (inString)
            {
                builder.Append(c);
                if (c == '\\' && i + 1 < json.Length)
                {
                    builder.Append(json[++i]);
                }
                else if (c == '"')
                {
                    inString = false;
                }

                continue;
            }

            string? token = Array.Find(tokens, t => json.AsSpan(i).StartsWith(t, StringComparison.Ordinal));
            if (token is not null)
            {
                builder.Append('"').Append(token).Append('"');
                i += token.Length - 1;
                continue;
            }

            inString = c == '"';
            builder.Append(c);
        }

        return builder.ToString();
    }

    internal static bool TryReadDouble(JsonElement value, out double result)
    {
        result = double.NaN;
        return value.ValueKind switch
        {
            JsonValueKind.Number => value.TryGetDouble(out result),
            JsonValueKind.String => TryParseNonFinite(value.GetString(), out result),
            _ => false,
        };
    }

    private static bool TryParseNonFinite(string? text, out double result)
    {
        result = text switch
        {
            "Infinity" => double.PositiveInfinity,
            "-Infinity" => double.NegativeInfinity,
            _ => double.NaN,
        };
        return text is "Infinity" or "-Infinity" or "NaN";
    }

    /// <summary>Reads one value, with errors that name the source and the key.</summary>
    private readonly struct ValueReader(string source, string key, JsonElement value)
    {
        public string String() => value.ValueKind == JsonValueKind.String
            ? value.GetString()!
            : throw Wrong("a string");

        public bool Bool() => value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Wrong("true or false"),
        };

        public double Double() => TryReadDouble(value, out double result) ? result : throw Wrong("a number");

        public int[] IntList()
        {
            if (value.ValueKind != JsonValueKind.Array)
            {
                throw Wrong("a list of integers");
            }

            var list = new List<int>();
            foreach (var item in value.EnumerateArray())
            {
                list.Add(item.ValueKind == JsonValueKind.Number && item.TryGetInt32(out int i) ? i : throw Wrong("a list of integers"));
            }

            return [.. list];
        }

        public int Int()
        {
            if (value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int result))
            {
                return result;
            }

            // 1000.0 is an integer too.
            if (value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out double d)
                && d == Math.Floor(d) && d is >= int.MinValue and <= int.MaxValue)
            {
                return (int)d;
            }

            throw Wrong("an integer");
        }

        public T Choice<T>((string Name, T Value)[] choices)
        {
            string supported = string.Join(", ", choices.Select(c => c.Name));
            if (value.ValueKind != JsonValueKind.String)
            {
                throw new HierDiffInputException(
                    $"{source}: key '{key}' is {value.GetRawText()}; supported: {supported}");
            }

            string text = value.GetString()!;
            foreach (var choice in choices)
            {
                if (choice.Name == text)
                {
                    return choice.Value;
                }
            }

            throw new HierDiffInputException($"{source}: key '{key}' is '{text}'; supported: {supported}");
        }

        private HierDiffInputException Wrong(string expected) =>
            new($"{source}: key '{key}' must be {expected}, not {value.GetRawText()}");
    }
}
