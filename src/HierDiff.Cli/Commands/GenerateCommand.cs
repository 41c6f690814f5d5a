using System.Diagnostics;
using System.Runtime.InteropServices;
using HierDiff.Core.Schedulers;
using HierDiff.Pipeline;
using HierDiff.Pipeline.Activities;
using HierDiff.Pipeline.Orchestration;
using HierDiff.Pipeline.RunFolders;

namespace HierDiff.Cli.Commands;

/// <summary><c>hierdiff generate</c>: a prompt file in, a folder of PNG images and a manifest out.</summary>
internal static class GenerateCommand
{
    public static Command Create()
    {
        var prompts = new Option<FileInfo>("--prompts") { Description = "Prompt file: .txt, .json, .jsonl or .csv", Required = true };
        var output = new Option<DirectoryInfo>("--out") { Description = "Output folder: images/0000.png ..., manifest.json and plan.json (the prompt tree)", Required = true };
        var modelDir = new Option<DirectoryInfo>("--model")
        {
            Description = "An ONNX export folder: Stable Diffusion 1.x/2.x or SDXL (diffusers/optimum layout), Kandinsky 2.2 (README); default: the built-in shapes model",
            DefaultValueFactory = _ => new DirectoryInfo(BuiltInModel.Directory),
        };
        var mode = new Option<string>("--mode") { Description = "hierarchical (share early steps) or standard", DefaultValueFactory = _ => "hierarchical" };
        Option<double?> tau = HierDiffCli.NumberOption("--tau", $"The paper's tau (default {GenerationOptions.DefaultTau})");
        Option<double?> target = HierDiffCli.NumberOption("--target-savings", "Use the smallest tau that saves at least this fraction of denoiser calls");
        var steps = new Option<int>("--steps") { Description = "Denoising steps", DefaultValueFactory = _ => 40 };
        var scheduler = new Option<string?>("--scheduler") { Description = $"{SchedulerRegistry.Default.HelpList} (default: the model's own, else {SchedulerFactory.Ddpm} where its config names none)" };
        Option<double?> guidance = HierDiffCli.NumberOption("--guidance", $"Classifier-free guidance scale (default {GenerationOptions.DefaultGuidance}, the preset's with --preset)");
        var preset = new Option<string?>("--preset")
        {
            Description = "paper: the authors' settings (DDPM, guidance 10, one starting latent for all prompts; 40 steps, tau 1, seed 42 as by default) for the options not given",
        };
        var tune = new Option<FileInfo?>("--tune") { Description = "A tune.json from hierdiff tune: run with its recommended savings target and split schedule" };
        var startingLatent = new Option<string?>("--starting-latent") { Description = "per-prompt (default: each prompt's own noise) or shared (one for all prompts, as the paper's code)" };
        var seed = new Option<ulong>("--seed") { Description = "Random seed", DefaultValueFactory = _ => 42 };
        var maxBatch = new Option<int>("--max-batch") { Description = "Most latents per UNet call", DefaultValueFactory = _ => 32 };
        var negative = new Option<string>("--negative-prompt") { Description = "Negative prompt (default empty)", DefaultValueFactory = _ => "" };
        var device = new Option<string>("--device") { Description = "cpu, cuda or cuda:N", DefaultValueFactory = _ => "cpu" };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace a non-empty output folder" };
        var keepNodes = new Option<bool>("--keep-node-images")
        {
            Description = "Also decode each shared cluster's latent where it splits, into nodes/{node}.png (hierdiff report shows them)",
        };
        var subtreeCalls = new Option<int>("--max-subtree-calls")
        {
            Description = "Siblings whose subtrees need at most this many denoiser calls run them in one activity, packed up to that many calls (0: one activity per segment batch); as HierDiff__MaxSubtreeCalls in Azure",
            DefaultValueFactory = _ => PipelineSettings.DefaultMaxSubtreeCalls,
        };
        var storage = new Option<string?>("--storage")
        {
            Description = "A blob storage connection string (Azurite's UseDevelopmentStorage=true, or Azure) for the run's intermediate files; default: a local folder",
        };

        var command = new Command("generate", "Generate one image per prompt, sharing early denoising steps between similar prompts")
        {
            prompts, output, modelDir, mode, tau, target, steps, scheduler, guidance, preset, startingLatent, tune, seed, maxBatch, negative, device, overwrite, keepNodes,
            subtreeCalls, storage,
        };
        var schedule = new PlanningOptions();
        schedule.AddTo(command);
        command.SetAction(parse =>
        {
            var clock = Stopwatch.StartNew();
            GenerationOptions options = schedule.Apply(parse, new GenerationOptions
            {
                Mode = GenerationOptions.ParseMode(parse.GetValue(mode)!),
                Tau = parse.GetValue(tau),
                TargetSavings = parse.GetValue(target),
                Steps = parse.GetValue(steps),
                Scheduler = parse.GetValue(scheduler),
                Guidance = parse.GetValue(guidance),
                Preset = parse.GetValue(preset),
                StartingLatent = parse.GetValue(startingLatent) is string start ? GenerationOptions.ParseStartingLatent(start) : null,
                Seed = parse.GetValue(seed),
                MaxBatch = parse.GetValue(maxBatch),
                NegativePrompt = parse.GetValue(negative)!,
            });
            if (parse.GetValue(tune) is FileInfo tuneFile)
            {
                TuneSetting.CheckOptionsLeaveItOpen(options);
                options = HierDiff.Report.TuneFile.ReadRecommendation(tuneFile.ToString()).ApplyTo(options);
            }

            PromptFileLimits limits = PromptFileLimits.FromEnvironment();
            options.Validate(maxPromptLength: limits.MaxPromptLength);
            int maxSubtreeCalls = parse.GetValue(subtreeCalls) is int calls and >= 0
                ? calls
                : throw new HierDiffInputException("--max-subtree-calls must be 0 or more");
            string modelPath = parse.GetValue(modelDir)!.ToString();
            ITextToImageModel model = TextToImageModels.Shared(modelPath, OnnxDevice.Parse(parse.GetValue(device)!));
            string outPath = parse.GetValue(output)!.ToString();
            var settings = new PipelineSettings { MaxSubtreeCalls = maxSubtreeCalls, Limits = limits };
            using var interrupt = new Interruption();
            try
            {
                GenerationManifest manifest = RunExport.Run(
                    parse.GetValue(prompts)!.ToString(), outPath, options, model, parse.GetValue(overwrite), parse.GetValue(storage), parse.GetValue(keepNodes),
                    ShowProgress, settings, modelPath, interrupt.Token);
                WriteSummary(manifest, outPath, clock.Elapsed.TotalSeconds);
                return 0;
            }
            catch (OperationCanceledException) when (interrupt.Signal is PosixSignal signal)
            {
                Console.Error.WriteLine($"interrupted ({signal}): nothing was written to {TerminalText.Escape(outPath)}; what was there is as it was");
                return signal == PosixSignal.SIGTERM ? 143 : 130;
            }
        });
        return command;
    }

    /// <summary>The progress bar of a run: denoiser calls up to standard generation's; what sharing saves ends it early.</summary>
    private static RunOutcome ShowProgress(Func<RunProgressSink, RunOutcome> run)
    {
        RunOutcome? outcome = null;
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new ElapsedTimeColumn())
            .Start(context =>
            {
                ProgressTask task = context.AddTask("denoising", maxValue: 1);
                long done = 0;
                outcome = run(new RunProgressSink(standard => task.MaxValue = standard, items => task.Value = Interlocked.Add(ref done, items)));
                task.Value = task.MaxValue;
            });
        return outcome!;
    }

    private static void WriteSummary(GenerationManifest m, string outPath, double totalSeconds)
    {
        var table = new Table().Border(TableBorder.Rounded).Title("generated").AddColumn("").AddColumn(new TableColumn("").RightAligned());
        table.HideHeaders();
        void Row(string name, string value) => table.AddRow(Markup.Escape(name), Markup.Escape(TerminalText.Escape(value)));
        CultureInfo c = CultureInfo.InvariantCulture;
        Row("images", $"{m.Images.Count} in {Path.Combine(outPath, "images")}");
        Row("model", $"{m.Model} on {m.Device}, {m.Width} x {m.Height}");
        Row("mode", m.Mode == "hierarchical" ? $"hierarchical, tau {m.Tau.ToString("0.####", c)}" : "standard");
        Row("scheduler", $"{m.Scheduler}, {m.Steps} steps, guidance {m.Guidance.ToString(c)}, seed {m.Seed}");
        if (m.Preset is not null || m.StartingLatent == "shared")
        {
            Row("preset", $"{m.Preset ?? "none"}, starting latent {m.StartingLatent}");
        }

        Row("denoiser calls", $"{m.DenoiserCalls.ToString("N0", c)} of {m.StandardDenoiserCalls.ToString("N0", c)} standard");
        Row("savings", m.Savings.ToString("0.00%", c));
        if (m.TruncatedPrompts > 0)
        {
            Row("prompts cut at 77 tokens", m.TruncatedPrompts.ToString(c));
        }

        Row("time", $"{totalSeconds.ToString("0.00", c)} s (encode {m.Timings.Encode.ToString("0.00", c)}, cluster {m.Timings.Cluster.ToString("0.00", c)}, " +
            $"denoise {m.Timings.Denoise.ToString("0.00", c)}, decode {m.Timings.Decode.ToString("0.00", c)})");
        AnsiConsole.Write(table);
    }
}
