using System.Globalization;
using HierDiff.Report;

namespace HierDiff.Cli.Commands;

/// <summary><c>hierdiff tune</c>: which savings target and split schedule still win against standard generation on
/// a sample of the user's prompts, written to tune.json for <c>generate --tune</c>.</summary>
internal static class TuneCommand
{
    public static Command Create()
    {
        var prompts = new Option<FileInfo>("--prompts") { Description = "Prompt file", Required = true };
        var output = new Option<DirectoryInfo>("--out") { Description = "Folder for sample.txt, the runs and tune.json", Required = true };
        var sample = new Option<int>("--sample") { Description = $"Prompts drawn (seeded) from the file (default {Tune.DefaultSample})", DefaultValueFactory = _ => Tune.DefaultSample };
        Option<double?> minWin = HierDiffCli.NumberOption("--min-win", $"Least win fraction against standard, ties half, a recommendation keeps (default {Tune.DefaultMinWin})");
        Option<double?> maxCalls = HierDiffCli.NumberOption("--max-calls", "Most denoiser calls the standard run and the ladder may spend (default 10 standard runs of the sample)");
        var steps = new Option<int>("--steps") { Description = "Denoising steps", DefaultValueFactory = _ => 40 };
        var seed = new Option<ulong>("--seed") { Description = "Random seed (also draws the sample)", DefaultValueFactory = _ => 42 };
        var modelDir = new Option<DirectoryInfo>("--model")
        {
            Description = "An ONNX export folder (its images scored by --evaluator, or for shapes-world prompts by the shapes world's evaluator); default: the built-in shapes model",
            DefaultValueFactory = _ => new DirectoryInfo(BuiltInModel.Directory),
        };
        var device = new Option<string>("--device") { Description = "cpu, cuda or cuda:N", DefaultValueFactory = _ => "cpu" };
        var evaluator = new EvaluatorOptions();
        var command = new Command("tune", "Find the most savings that still wins against standard generation on a sample of the prompts")
        {
            prompts, output, sample, minWin, maxCalls, steps, seed, modelDir, device,
        };
        evaluator.AddTo(command);
        command.SetAction(parse =>
        {
            double win = parse.GetValue(minWin) ?? Tune.DefaultMinWin;
            if (win is < 0 or > 1)
            {
                throw new HierDiffInputException($"--min-win must be a fraction from 0 to 1, not {win.ToString(CultureInfo.InvariantCulture)}");
            }

            int size = parse.GetValue(sample);
            if (size < 2)
            {
                throw new HierDiffInputException($"--sample must be at least 2 prompts, not {size}");
            }

            long? budget = parse.GetValue(maxCalls) is double calls
                ? calls >= 1 && calls <= long.MaxValue / 2 ? (long)calls : throw new HierDiffInputException($"--max-calls must be a positive number of calls, not {calls.ToString(CultureInfo.InvariantCulture)}")
                : null;
            var options = new GenerationOptions { Steps = parse.GetValue(steps), Seed = parse.GetValue(seed) };
            options.Validate();
            string promptPath = parse.GetValue(prompts)!.ToString();
            PromptFileReader.Read(promptPath);
            ITextToImageModel model = TextToImageModels.Shared(parse.GetValue(modelDir)!.ToString(), OnnxDevice.Parse(parse.GetValue(device)!));
            using ClipEvaluator? clip = evaluator.Clip(parse);
            string outPath = parse.GetValue(output)!.ToString();
            TuneFile tune = Tune.Run(promptPath, outPath, options, size, win, budget, model, clip, Console.Error.WriteLine);

            var table = new Table().Border(TableBorder.Rounded).Title("tune")
                .AddColumn("target").AddColumn("shape").AddColumn("private steps").AddColumn("savings").AddColumn("mean score").AddColumn("win %").AddColumn("95 % interval");
            foreach (TuneResult r in tune.Settings)
            {
                table.AddRow(
                    r.Setting.TargetSavings.ToString("0.##", CultureInfo.InvariantCulture), r.Setting.SplitShape.ToString("0.##", CultureInfo.InvariantCulture),
                    r.Setting.PrivateSteps.ToString(CultureInfo.InvariantCulture), r.Savings.ToString("0.0%", CultureInfo.InvariantCulture),
                    r.MeanScore.ToString("0.000", CultureInfo.InvariantCulture), r.WinPercent.ToString("0.0", CultureInfo.InvariantCulture),
                    $"{r.WinInterval[0].ToString("0.0", CultureInfo.InvariantCulture)}-{r.WinInterval[1].ToString("0.0", CultureInfo.InvariantCulture)}");
            }

            AnsiConsole.Write(table);
            Console.WriteLine(tune.Recommended is TuneSetting s
                ? $"recommended: --target-savings {s.TargetSavings.ToString(CultureInfo.InvariantCulture)} --split-shape {s.SplitShape.ToString(CultureInfo.InvariantCulture)} --private-steps {s.PrivateSteps} (generate --tune {Path.Combine(outPath, TuneFile.FileName)})"
                : $"no recommendation: {tune.NoRecommendation}");
            if (tune.Skipped.Count > 0)
            {
                Console.WriteLine($"skipped {tune.Skipped.Count} of {Tune.Ladder.Count} settings (tune.json says why)");
            }

            Console.WriteLine($"written: {Path.Combine(outPath, TuneFile.FileName)}");
            return 0;
        });
        return command;
    }
}
