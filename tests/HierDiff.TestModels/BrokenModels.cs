namespace HierDiff.TestModels;

/// <summary>Breaks a folder written by <see cref="TinyStableDiffusion.Write"/> in the ways real exports go wrong.</summary>
public static class BrokenModels
{
    /// <summary>Deletes one file of the export, e.g. "unet/model.onnx_data" or "tokenizer/merges.txt".</summary>
    public static void DeleteFile(string directory, string relativePath)
    {
        var path = Resolve(directory, relativePath);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"No file '{relativePath}' in '{directory}'.", path);
        }

        File.Delete(path);
    }

    /// <summary>Overwrites one file of the export with bytes that are not what it should hold.</summary>
    public static void Corrupt(string directory, string relativePath)
    {
        var path = Resolve(directory, relativePath);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"No file '{relativePath}' in '{directory}'.", path);
        }

        File.WriteAllText(path, "this is not the file you are looking for\n");
    }

    /// <summary>Rewrites the UNet with the input <paramref name="from"/> called <paramref name="to"/>.</summary>
    public static void RenameUNetInput(string directory, string from = "encoder_hidden_states", string to = "hidden_states") =>
        RenameInput(directory, "unet", from, to);

    /// <summary>Rewrites the text encoder without its <c>pooler_output</c> (and the nodes that computed it).</summary>
    public static void RemoveTextEncoderPooledOutput(string directory) =>
        RemoveOutput(directory, "text_encoder", "pooler_output");

    /// <summary>Rewrites <c>{model}/model.onnx</c> with the graph input <paramref name="from"/> renamed to <paramref name="to"/>.</summary>
    public static void RenameInput(string directory, string model, string from, string to)
    {
        var path = ModelPath(directory, model);
        var proto = OnnxFiles.Read(path);
        var input = proto.Graph.Input.SingleOrDefault(i => i.Name == from)
            ?? throw new ArgumentException($"{model}/model.onnx has no input '{from}'.", nameof(from));
        input.Name = to;
        foreach (var node in proto.Graph.Node)
        {
            for (var i = 0; i < node.Input.Count; i++)
            {
                if (node.Input[i] == from)
                {
                    node.Input[i] = to;
                }
            }
        }

        OnnxFiles.Write(proto, path);
    }

    /// <summary>Rewrites <c>{model}/model.onnx</c> without the graph output <paramref name="output"/> and the nodes only it used.</summary>
    public static void RemoveOutput(string directory, string model, string output)
    {
        var path = ModelPath(directory, model);
        var proto = OnnxFiles.Read(path);
        var graph = proto.Graph;
        var removed = graph.Output.SingleOrDefault(o => o.Name == output)
            ?? throw new ArgumentException($"{model}/model.onnx has no output '{output}'.", nameof(output));
        graph.Output.Remove(removed);

        // Drop nodes nothing uses any more, from the end back, so that the graph stays clean.
        bool changed;
        do
        {
            var used = graph.Output.Select(o => o.Name).Concat(graph.Node.SelectMany(n => n.Input)).ToHashSet();
            var dead = graph.Node.Where(n => !n.Output.Any(used.Contains)).ToList();
            foreach (var node in dead)
            {
                graph.Node.Remove(node);
            }

            changed = dead.Count > 0;
        }
        while (changed);

        var stillUsed = graph.Node.SelectMany(n => n.Input).ToHashSet();
        foreach (var initializer in graph.Initializer.Where(t => !stillUsed.Contains(t.Name)).ToList())
        {
            graph.Initializer.Remove(initializer);
        }

        OnnxFiles.Write(proto, path);
    }

    private static string ModelPath(string directory, string model)
    {
        var path = Resolve(directory, Path.Combine(model, "model.onnx"));
        return File.Exists(path) ? path : throw new FileNotFoundException($"No {model}/model.onnx in '{directory}'.", path);
    }

    private static string Resolve(string directory, string relativePath) =>
        Path.Combine(directory, relativePath.Replace('/', Path.DirectorySeparatorChar));
}
