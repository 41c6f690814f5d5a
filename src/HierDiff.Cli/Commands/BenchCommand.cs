using HierDiff.Report;

namespace HierDiff.Cli.Commands;

/// <summary><c>hierdiff bench</c>: standard against hierarchical generation, and standard with fewer steps at the same
/// calls, side by side; the runs, their scores and the table are <see cref="Bench"/>'s.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var prompts = new Option<FileInfo>("--prompts") { Description = "Prompt file", Required = true };
        var output = new Option<DirectoryInfo?>("--out") { Description = "Folder for the runs, bench.json and bench.md (default: out/bench-NAME)" };
        var targets = new Option<double[]>("--targets")
        {
            Description = "Savings targets of the hierarchical runs",
            DefaultValueFactory = _ => [0.4, 0.6, 0.75],
            AllowMultipleArgumentsPerToken = true,
        };
        var steps = new Option<int>("--steps") { Description = "Denoising steps of standard generation", DefaultValueFactory = _ => 40 };
        var modelDirs = new Option<DirectoryInfo[]>("--model")
        {
            Description = "An ONNX export folder of a family HierDiff loads; default: the built-in shapes model. Give several to compare them on the same prompts",
            DefaultValueFactory = _ => [new DirectoryInfo(BuiltInModel.Directory)],
            AllowMultipleArgumentsPerToken = true,
        };
        var device = new Option<string>("--device") { Description = "cpu, cuda or cuda:N", DefaultValueFactory = _ => "cpu" };
        var seed = new Option<ulong>("--seed") { Description = "Random seed", DefaultValueFactory = _ => 42 };
        var rounds = new Option<int>("--rounds")
        {
            Description = $"Make each run this many times and keep its fastest wall time (1 to {Bench.MaxRounds}; a shared machine's noise only adds time)",
            DefaultValueFactory = _ => 1,
        };
        var command = new Command("bench", "Standard against hierarchical generation, and standard with fewer steps at the same calls, side by side")
        {
            prompts, output, targets, steps, modelDirs, device, seed, rounds,
        };
        var schedule = new PlanningOptions();
        schedule.AddTo(command);
        command.SetAction(parse =>
        {
            string promptPath = parse.GetValue(prompts)!.ToString();
            string outPath = parse.GetValue(output)?.ToString() ?? Path.Combine("out", "bench-" + Path.GetFileNameWithoutExtension(promptPath));
            double[] savingsTargets = parse.GetValue(targets) ?? [];
            if (savingsTargets.Any(t => !(t > 0 && t < 1)))
            {
                throw new HierDiffInputException($"--targets must lie between 0 and 1 (savings fractions), not {string.Join(", ", savingsTargets)}");
            }

            int timesEach = Bench.CheckRounds(parse.GetValue(rounds));

            GenerationOptions options = schedule.Apply(parse, new GenerationOptions { Steps = parse.GetValue(steps), Seed = parse.GetValue(seed) });
            options.Validate();
            OnnxDevice onnxDevice = OnnxDevice.Parse(parse.GetValue(device)!);
            ITextToImageModel[] models = [.. (parse.GetValue(modelDirs) ?? []).Select(d => TextToImageModels.Shared(d.ToString(), onnxDevice))];
            if (models.Select(m => m.Name).Distinct().Count() != models.Length)
            {
                throw new HierDiffInputException($"--model: each model's folder needs its own name (its bench goes to {outPath}/NAME), not {string.Join(", ", models.Select(m => m.Name))}");
            }

            int count = PromptFileReader.Read(promptPath).Count;
            if (models.Length == 1)
            {
                Console.Write(Bench.Write(outPath, Bench.Run(promptPath, outPath, options, savingsTargets, models[0], Console.Error.WriteLine, timesEach), count, options.Steps, models[0].Name, timesEach));
                Console.WriteLine($"written: {Path.Combine(outPath, Bench.MarkdownFile)}, {Path.Combine(outPath, Bench.JsonFile)}");
                return 0;
            }

            // Several models: each one's bench in its own folder, then the comparison of all.
            var benches = new List<(string, IReadOnlyList<BenchRow>)>();
            foreach (ITextToImageModel model in models)
            {
                string modelOut = Path.Combine(outPath, model.Name);
                IReadOnlyList<BenchRow> rows = Bench.Run(promptPath, modelOut, options, savingsTargets, model, Console.Error.WriteLine, timesEach);
                Bench.Write(modelOut, rows, count, options.Steps, model.Name, timesEach);
                benches.Add((model.Name, rows));
            }

            string table = Bench.ModelComparisonTable(benches, savingsTargets, count, options.Steps);
            File.WriteAllText(Path.Combine(outPath, Bench.ModelComparisonFile), table);
            Console.Write(table);
            Console.WriteLine($"written: {Path.Combine(outPath, Bench.ModelComparisonFile)}, and each model's {Bench.MarkdownFile} and {Bench.JsonFile} in {Path.Combine(outPath, "NAME")}");
            return 0;
        });
        return command;
    }
}
