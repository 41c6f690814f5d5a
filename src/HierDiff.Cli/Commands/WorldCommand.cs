using HierDiff.Pipeline.RunFolders;
using HierDiff.ShapesWorld.World;

namespace HierDiff.Cli.Commands;

/// <summary><c>hierdiff world</c>: images and prompts from the built-in model's world of shapes (training data).</summary>
internal static class WorldCommand
{
    public static Command Create()
    {
        var count = new Option<int>("--count") { Description = "How many images", DefaultValueFactory = _ => 1000 };
        var seed = new Option<int>("--seed") { Description = "Random seed", DefaultValueFactory = _ => 1 };
        var output = new Option<DirectoryInfo>("--out") { Description = "Folder for images.npy, prompts.txt, labels.jsonl", Required = true };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace a previous output of hierdiff world" };
        var command = new Command("world", "Write images and prompts of the shapes world (the built-in model's training data)") { count, seed, output, overwrite };
        command.SetAction(parse =>
        {
            int n = parse.GetValue(count);
            if (n < 1)
            {
                throw new HierDiffInputException($"--count must be at least 1, not {n}");
            }

            using OutputFolder folder = OutputFolder.Open(WorldOutput, parse.GetValue(output)!.ToString(), parse.GetValue(overwrite));
            WorldDataset.Write(folder.Staging, n, parse.GetValue(seed));
            folder.Commit();
            return 0;
        });
        return command;
    }

    /// <summary>What this command writes, so that --overwrite replaces only that.</summary>
    private static OutputKind WorldOutput { get; } = new("a previous output of hierdiff world", folder =>
        Directory.EnumerateFileSystemEntries(folder).Select(Path.GetFileName).Order(StringComparer.Ordinal)
            .FirstOrDefault(name => name is not ("images.npy" or "prompts.txt" or "labels.jsonl") || new FileInfo(Path.Combine(folder, name!)).LinkTarget is not null) is string other
            ? $"'{other}'" : null);
}
