namespace HierDiff.Core.Runs;

/// <summary>One prompt of a run: its index, its text and the name of its image in the run folder.</summary>
/// <param name="ImageField">Where the manifest names the image ("FILE: prompts[3].image"), for messages.</param>
public sealed record RunPrompt(int Index, string Text, string Image, string ImageField);

/// <summary>
/// A run folder's <c>manifest.json</c>, checked as far as the readers of a run need it: a non-empty
/// <c>prompts</c> array whose entries have an <c>index</c> (0..N-1, each once), a <c>text</c> and an <c>image</c>
/// inside the folder, different for each prompt and present. The fields of the summary (mode, savings, denoiser
/// calls, steps) must have their type where they are there. Anything else is refused as one line naming the field.
/// A sharded run's manifest is its summary: its <c>shards</c> name each shard's manifest (shards/00000.json), whose
/// <c>prompts</c> are that shard's, checked the same way across all of them.
/// </summary>
public sealed class RunManifest
{
    public const string FileName = "manifest.json";

    private RunManifest(RunFolder folder, JsonField root, IReadOnlyList<RunPrompt> prompts)
    {
        Folder = folder;
        Root = root;
        Prompts = prompts;
        Mode = root.OptionalProperty("mode")?.String();
        Savings = root.OptionalProperty("savings")?.Double();
        DenoiserCalls = root.OptionalProperty("denoiser_calls")?.Long(0);
        Steps = root.OptionalProperty("steps")?.Int(1);
    }

    public RunFolder Folder { get; }

    /// <summary>manifest.json as messages show it.</summary>
    public string Path => Folder.Show(FileName);

    /// <summary>The whole manifest, for summaries that show what they find.</summary>
    public JsonField Root { get; }

    /// <summary>The prompts in index order: <c>Prompts[i].Index == i</c>.</summary>
    public IReadOnlyList<RunPrompt> Prompts { get; }

    public string? Mode { get; }

    public double? Savings { get; }

    public long? DenoiserCalls { get; }

    public int? Steps { get; }

    public static RunManifest Read(RunFolder folder)
    {
        string path = folder.Show(FileName);
        byte[] bytes = folder.ReadIfPresent(FileName, path, RunFolder.MaxJsonBytes)
            ?? throw new HierDiffInputException($"{folder.Path}: has no {FileName}: not a run folder written by hierdiff generate");
        JsonField root = JsonField.Parse(path, bytes);
        JsonField[] lists = [.. PromptLists(folder, root)];
        int count = lists.Sum(l => l.ArrayLength);
        if (count == 0)
        {
            throw lists[0].Error("lists no prompts");
        }

        var prompts = new RunPrompt?[count];
        var images = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (JsonField entry in lists.SelectMany(l => l.Items()))
        {
            JsonField index = entry.Property("index");
            int i = index.Int(0, count - 1);
            if (prompts[i] is not null)
            {
                throw index.Error($"prompt {i} is listed twice");
            }

            JsonField image = entry.Property("image");
            string where = $"{path}: {image.Place}";
            string name = image.String();

            // Each prompt has its own image; one named twice (also through a link) is not a run generate wrote.
            string full = folder.Resolve(name, where);
            if (!File.Exists(full))
            {
                throw image.Error($"{folder.Show(name)} {(Directory.Exists(full) ? "is a folder, not an image" : "is missing")}");
            }

            if (!images.TryAdd(full, i))
            {
                throw image.Error($"'{name}' is also the image of prompt {images[full]}");
            }

            prompts[i] = new RunPrompt(i, entry.Property("text").String(), name, where);
        }

        return new RunManifest(folder, root, prompts.Select(p => p!).ToArray());
    }

    /// <summary>The manifest's <c>prompts</c>, or of a sharded run's summary, each of its shards' manifests'.</summary>
    private static IEnumerable<JsonField> PromptLists(RunFolder folder, JsonField root)
    {
        if (root.OptionalProperty("shards") is not JsonField shards)
        {
            yield return root.Property("prompts");
            yield break;
        }

        if (shards.ArrayLength == 0)
        {
            throw shards.Error("lists no shards");
        }

        foreach (JsonField shard in shards.Items())
        {
            JsonField name = shard.Property("manifest");
            string file = name.String();
            byte[] bytes = folder.Read(file, $"{name.File}: {name.Place}", RunFolder.MaxJsonBytes);
            yield return JsonField.Parse(folder.Show(file), bytes).Property("prompts");
        }
    }

    /// <summary>The bytes of a prompt's image (up to <see cref="RunFolder.MaxImageBytes"/>).</summary>
    public byte[] ReadImage(RunPrompt prompt) => Folder.Read(prompt.Image, prompt.ImageField, RunFolder.MaxImageBytes);
}
