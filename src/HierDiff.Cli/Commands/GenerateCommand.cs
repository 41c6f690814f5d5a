using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using HierDiff.Core;
using HierDiff.Core.Prompts;
using HierDiff.Models;
using HierDiff.Models.Images;
using HierDiff.Models.Onnx;
using HierDiff.Models.Pipelines;
using Spectre.Console;

namespace HierDiff.Cli.Commands;

/// <summary><c>hierdiff generate</c>: a prompt file in, a folder of PNG images and a manifest out.</summary>
public static class GenerateCommand
{
    public static Command Create()
    {
        var prompts = new Option<FileInfo>("--prompts") { Description = "Prompt file: .txt, .json, .jsonl or .csv", Required = true };
        var output = new Option<DirectoryInfo>("--out") { Description = "Output folder: images/0000.png ... and manifest.json", Required = true };
        var modelDir = new Option<DirectoryInfo>("--model") { Description = "A Stable Diffusion ONNX export folder (diffusers/optimum layout)", Required = true };
        var mode = new Option<string>("--mode") { Description = "hierarchical (share early steps) or standard", DefaultValueFactory = _ => "hierarchical" };
        Option<double?> tau = HierDiffCli.NumberOption("--tau", $"The paper's tau (default {GenerationOptions.DefaultTau})");
        Option<double?> target = HierDiffCli.NumberOption("--target-savings", "Use the smallest tau that saves at least this fraction of denoiser calls");
        var steps = new Option<int>("--steps") { Description = "Denoising steps", DefaultValueFactory = _ => 40 };
        var scheduler = new Option<string?>("--scheduler") { Description = "ddpm, ddim, euler, euler-ancestral, dpm++2m or flow-euler (default: the model's, else ddpm)" };
        Option<double?> guidance = HierDiffCli.NumberOption("--guidance", "Classifier-free guidance scale (default 7.5)");
        var seed = new Option<ulong>("--seed") { Description = "Random seed", DefaultValueFactory = _ => 42 };
        var maxBatch = new Option<int>("--max-batch") { Description = "Most latents per UNet call", DefaultValueFactory = _ => 32 };
        var negative = new Option<string>("--negative-prompt") { Description = "Negative prompt (default empty)", DefaultValueFactory = _ => "" };
        var device = new Option<string>("--device") { Description = "cpu, cuda or cuda:N", DefaultValueFactory = _ => "cpu" };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace a non-empty output folder" };

        var command = new Command("generate", "Generate one image per prompt, sharing early denoising steps between similar prompts")
        {
            prompts, output, modelDir, mode, tau, target, steps, scheduler, guidance, seed, maxBatch, negative, device, overwrite,
        };
        command.SetAction(parse =>
        {
            var clock = Stopwatch.StartNew();
            var options = new GenerationOptions
            {
                Mode = parse.GetValue(mode) switch
                {
                    "hierarchical" => GenerationMode.Hierarchical,
                    "standard" => GenerationMode.Standard,
                    var other => throw new HierDiffInputException($"--mode '{other}' is not a mode; use hierarchical or standard"),
                },
                Tau = parse.GetValue(tau),
                TargetSavings = parse.GetValue(target),
                Steps = parse.GetValue(steps),
                Scheduler = parse.GetValue(scheduler),
                Guidance = parse.GetValue(guidance) ?? 7.5,
                Seed = parse.GetValue(seed),
                MaxBatch = parse.GetValue(maxBatch),
                NegativePrompt = parse.GetValue(negative)!,
            };
            options.Validate();
            OnnxDevice onnxDevice = OnnxDevice.Parse(parse.GetValue(device)!);
            string outPath = parse.GetValue(output)!.ToString();
            using OutputFolder folder = OutputFolder.Open(outPath, parse.GetValue(overwrite));

            PromptSet set = PromptFileReader.Read(parse.GetValue(prompts)!.ToString());
            StableDiffusionModel model = StableDiffusionModel.Shared(parse.GetValue(modelDir)!.ToString(), onnxDevice);
            IReadOnlyList<string> texts = set.Texts;

            GenerationResult result = RunWithProgress(model, texts, options);
            var manifest = GenerationManifest.From(result, options, model, texts, 0);
            for (int i = 0; i < texts.Count; i++)
            {
                folder.WriteFile(manifest.Images[i], PngEncoder.Encode(result.Images[i], manifest.PngText(i)));
            }

            manifest = manifest with { Timings = manifest.Timings with { Total = clock.Elapsed.TotalSeconds } };
            folder.WriteFile("manifest.json", manifest.ToJsonBytes());
            folder.Commit();
            WriteSummary(manifest, outPath);
            return 0;
        });
        return command;
    }

    private static GenerationResult RunWithProgress(StableDiffusionModel model, IReadOnlyList<string> texts, GenerationOptions options)
    {
        var pipeline = new StableDiffusionPipeline(model);
        GenerationResult? result = null;
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new ElapsedTimeColumn())
            .Start(context =>
            {
                var tasks = new Dictionary<string, ProgressTask>();
                result = pipeline.Generate(texts, options, p =>
                {
                    if (!tasks.TryGetValue(p.Phase, out ProgressTask? task))
                    {
                        foreach (ProgressTask earlier in tasks.Values)
                        {
                            earlier.Value = earlier.MaxValue;
                        }

                        task = tasks[p.Phase] = context.AddTask(p.Phase, maxValue: Math.Max(1, p.Total));
                    }

                    task.Value = p.Done;
                });
                foreach (ProgressTask task in tasks.Values)
                {
                    task.Value = task.MaxValue;
                }
            });
        return result!;
    }

    private static void WriteSummary(GenerationManifest m, string outPath)
    {
        var table = new Table().Border(TableBorder.Rounded).Title("generated").AddColumn("").AddColumn(new TableColumn("").RightAligned());
        table.HideHeaders();
        void Row(string name, string value) => table.AddRow(Markup.Escape(name), Markup.Escape(value));
        CultureInfo c = CultureInfo.InvariantCulture;
        Row("images", $"{m.Images.Count} in {Path.Combine(outPath, "images")}");
        Row("model", $"{m.Model} on {m.Device}, {m.Width} x {m.Height}");
        Row("mode", m.Mode == "hierarchical" ? $"hierarchical, tau {m.Tau.ToString("0.####", c)}" : "standard");
        Row("scheduler", $"{m.Scheduler}, {m.Steps} steps, guidance {m.Guidance.ToString(c)}, seed {m.Seed}");
        Row("denoiser calls", $"{m.DenoiserCalls.ToString("N0", c)} of {m.StandardDenoiserCalls.ToString("N0", c)} standard");
        Row("savings", m.Savings.ToString("0.00%", c));
        if (m.TruncatedPrompts > 0)
        {
            Row("prompts cut at 77 tokens", m.TruncatedPrompts.ToString(c));
        }

        Row("time", $"{m.Timings.Total.ToString("0.00", c)} s (encode {m.Timings.Encode.ToString("0.00", c)}, cluster {m.Timings.Cluster.ToString("0.00", c)}, " +
            $"denoise {m.Timings.Denoise.ToString("0.00", c)}, decode {m.Timings.Decode.ToString("0.00", c)})");
        AnsiConsole.Write(table);
    }
}
