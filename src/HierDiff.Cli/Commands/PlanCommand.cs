using System.Text.Json;
using HierDiff.Core.Clustering;
using HierDiff.Core.Embeddings;
using HierDiff.Core.Planning;

namespace HierDiff.Cli.Commands;

/// <summary><c>hierdiff plan</c>: the tree, the step plan and the savings for a prompt set's embeddings.</summary>
internal static class PlanCommand
{
    private static readonly JsonSerializerOptions SnakeCase = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static Command Create()
    {
        var embeddings = new Option<FileInfo?>("--embeddings")
        {
            Description = "Embedding matrix, one row per prompt: .npy (float32/float64, 2-D) or .json",
        };
        var prompts = new Option<FileInfo?>("--prompts") { Description = "Prompt file, embedded with --model's text encoder" };
        var modelDir = new Option<DirectoryInfo?>("--model") { Description = "An ONNX export folder of a family HierDiff loads (with --prompts); default: the built-in shapes model" };
        Option<double?> tau = HierDiffCli.NumberOption("--tau", "Highest merge height shared at the first step (the paper's tau)");
        Option<double?> target = HierDiffCli.NumberOption(
            "--target-savings", "Pick the smallest tau that saves at least this fraction of denoiser calls, e.g. 0.5");
        var steps = new Option<int>("--steps") { Description = "Denoising steps K", DefaultValueFactory = _ => 40 };
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of a table" };

        var schedule = new PlanningOptions();
        var command = new Command("plan", "Cluster prompt embeddings and show which tree node runs which steps, and what it saves")
        {
            embeddings, prompts, modelDir, tau, target, steps, json,
        };
        schedule.AddTo(command);
        command.SetAction(parse =>
        {
            int k = parse.GetValue(steps);
            double? savingsTarget = parse.GetValue(target);
            if ((parse.GetValue(tau) is null) == (savingsTarget is null))
            {
                throw new HierDiffInputException("give exactly one of --tau and --target-savings");
            }

            GenerationOptions options = schedule.Apply(parse, new GenerationOptions { Tau = parse.GetValue(tau), TargetSavings = savingsTarget, Steps = k });
            options.Validate();
            (EmbeddingMatrix matrix, string path) = ReadEmbeddings(parse.GetValue(embeddings), parse.GetValue(prompts), parse.GetValue(modelDir));
            options.Validate(matrix.Rows);
            PromptTree built = PromptTree.Build(matrix, options.MaxExact);
            Linkage tree = built.Tree;
            double chosenTau = RunResolution.Tau(options, tree).Tau;
            HierarchicalPlan plan = HierarchicalPlan.Build(tree, chosenTau, k, options.Schedule());
            if (parse.GetValue(json))
            {
                WriteJson(plan, built.Summary(), savingsTarget, options.Schedule());
            }
            else
            {
                WriteTable(plan, built.Summary(), path, savingsTarget, options.Schedule());
            }

            return 0;
        });
        return command;
    }

    /// <summary>An embedding file, or a prompt file embedded with a model's text encoder (pooled output).</summary>
    private static (EmbeddingMatrix, string) ReadEmbeddings(FileInfo? embeddings, FileInfo? prompts, DirectoryInfo? model)
    {
        if ((embeddings is null) == (prompts is null))
        {
            throw new HierDiffInputException("give --embeddings FILE or --prompts FILE (embedded with --model, the built-in model by default)");
        }

        if (embeddings is not null)
        {
            return (EmbeddingFile.Read(embeddings.ToString()), embeddings.ToString());
        }

        PromptSet set = PromptFileReader.Read(prompts!.ToString(), PromptFileLimits.FromEnvironment());
        ITextToImageModel sd = TextToImageModels.Shared(model?.ToString() ?? BuiltInModel.Directory, OnnxDevice.Cpu);
        return (PromptEncoding.ClusterMatrix(sd.Encode(set.Texts), "the prompts' cluster embeddings"), prompts.ToString());
    }

    private static void WriteTable(HierarchicalPlan plan, TreeSummary tree, string source, double? target, SplitSchedule schedule)
    {
        var table = new Table().Border(TableBorder.Rounded).Title("hierarchical plan").AddColumn("").AddColumn(new TableColumn("").RightAligned());
        table.HideHeaders();
        void Row(string name, string value) => table.AddRow(Markup.Escape(name), Markup.Escape(TerminalText.Escape(value)));
        Row("input", source);
        Row("prompts", plan.PromptCount.ToString(CultureInfo.InvariantCulture));
        Row("steps (K)", plan.Steps.ToString(CultureInfo.InvariantCulture));
        Row("tau", plan.Tau.ToString("0.######", CultureInfo.InvariantCulture) + (target is null ? "" : $"  (smallest for {target:0.##%} savings)"));
        if (schedule != SplitSchedule.Paper)
        {
            Row("split schedule", $"shape {schedule.Shape.ToString("0.###", CultureInfo.InvariantCulture)}, {schedule.PrivateSteps} private steps");
        }

        CultureInfo c = CultureInfo.InvariantCulture;
        Row("tree", tree.Kind == "exact"
            ? $"exact Ward (up to --max-exact {tree.MaxExact.ToString(c)} prompts)"
            : $"sharded: {tree.Shards.ToString(c)} shards of {tree.SmallestShard.ToString(c)}-{tree.LargestShard.ToString(c)} prompts (--max-exact {tree.MaxExact.ToString(c)}), " +
              $"exact Ward in each, {tree.LiftedMerges.ToString(c)} top merges lifted");
        Row("root height", plan.Tree.Score(plan.Tree.Root).ToString("0.######", CultureInfo.InvariantCulture));
        Row("nodes that run", $"{plan.Segments.Count} of {plan.Tree.NodeCount}");
        Row("clusters at first step", plan.ActivePerStep[0].Count.ToString(CultureInfo.InvariantCulture));
        Row("denoiser calls", plan.DenoiserCalls.ToString("N0", CultureInfo.InvariantCulture));
        Row("standard calls (K x N)", plan.StandardDenoiserCalls.ToString("N0", CultureInfo.InvariantCulture));
        Row("savings", plan.Savings.ToString("0.00%", CultureInfo.InvariantCulture));
        AnsiConsole.Write(table);
    }

    private static void WriteJson(HierarchicalPlan plan, TreeSummary tree, double? target, SplitSchedule schedule)
    {
        using var writer = new Utf8JsonWriter(Console.OpenStandardOutput(), new JsonWriterOptions { Indented = false });
        writer.WriteStartObject();
        writer.WriteNumber("prompts", plan.PromptCount);
        writer.WriteNumber("steps", plan.Steps);
        writer.WriteNumber("tau", plan.Tau);
        if (target is double t)
        {
            writer.WriteNumber("target_savings", t);
        }

        writer.WriteNumber("split_shape", schedule.Shape);
        writer.WriteNumber("private_steps", schedule.PrivateSteps);
        // The same fields as plan.json's and manifest.json's tree.
        writer.WritePropertyName("tree");
        JsonSerializer.Serialize(writer, tree, SnakeCase);
        writer.WriteNumber("root_height", plan.Tree.Score(plan.Tree.Root));
        writer.WriteNumber("denoiser_calls", plan.DenoiserCalls);
        writer.WriteNumber("standard_denoiser_calls", plan.StandardDenoiserCalls);
        writer.WriteNumber("savings", plan.Savings);
        writer.WriteStartArray("linkage");
        foreach (LinkageRow row in plan.Tree.Rows)
        {
            writer.WriteStartArray();
            writer.WriteNumberValue(row.Left);
            writer.WriteNumberValue(row.Right);
            writer.WriteNumberValue(row.Height);
            writer.WriteNumberValue(row.Count);
            writer.WriteEndArray();
        }

        writer.WriteEndArray();
        writer.WriteStartArray("thresholds");
        foreach (double phi in plan.Thresholds)
        {
            writer.WriteNumberValue(phi);
        }

        writer.WriteEndArray();
        writer.WriteStartArray("active_per_step");
        foreach (IReadOnlyList<int> active in plan.ActivePerStep)
        {
            writer.WriteNumberValue(active.Count);
        }

        writer.WriteEndArray();
        writer.WriteStartArray("segments");
        foreach (PlanSegment segment in plan.Segments)
        {
            writer.WriteStartObject();
            writer.WriteNumber("node", segment.Node);
            writer.WriteNumber("start_step", segment.Start);
            writer.WriteNumber("end_step", segment.End);
            writer.WriteNumber("source", segment.Source);
            writer.WriteNumber("score", segment.Score);
            writer.WriteNumber("noise_member", segment.NoiseMember);
            writer.WriteStartArray("members");
            foreach (int m in segment.Members)
            {
                writer.WriteNumberValue(m);
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
        writer.Flush();
        Console.OpenStandardOutput().Write("\n"u8);
    }
}
