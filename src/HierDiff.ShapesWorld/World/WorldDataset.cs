using System.Text;
using System.Text.Json;

namespace HierDiff.ShapesWorld.World;

/// <summary>
/// Training data for the built-in model: <c>images.npy</c> (uint8, count x 64 x 64 x 3), <c>prompts.txt</c> (one
/// prompt a line) and <c>labels.jsonl</c> (per line the scene drawn and what the prompt says: each attribute's
/// index, or -1 where the prompt leaves it unsaid). The same count and seed give the same files.
/// </summary>
public static class WorldDataset
{
    public static void Write(string directory, int count, int seed)
    {
        Directory.CreateDirectory(directory);
        var random = new Random(seed);
        int imageBytes = SceneRenderer.Size * SceneRenderer.Size * 3;
        using var images = File.Create(Path.Combine(directory, "images.npy"));
        WriteNpyHeader(images, "|u1", $"({count}, {SceneRenderer.Size}, {SceneRenderer.Size}, 3)");
        using var prompts = new StreamWriter(Path.Combine(directory, "prompts.txt"), false, new UTF8Encoding(false));
        using var labels = new StreamWriter(Path.Combine(directory, "labels.jsonl"), false, new UTF8Encoding(false));
        for (int i = 0; i < count; i++)
        {
            SceneDescription d = PromptWriter.RandomDescription(random);
            Scene scene = PromptWriter.Realise(d, random);
            string text = PromptWriter.Write(d, random);
            byte[] pixels = SceneRenderer.Render(scene);
            if (pixels.Length != imageBytes)
            {
                throw new InvalidOperationException("renderer size changed");
            }

            images.Write(pixels);
            prompts.WriteLine(text);
            labels.WriteLine(JsonSerializer.Serialize(new
            {
                kind = (int)scene.Kind,
                colour = (int)scene.ShapeColour,
                background = (int)scene.Background,
                size = (int)scene.Size,
                position = (int)scene.Position,
                pattern = (int)scene.Pattern,
                said_background = d.Background is null ? -1 : (int)d.Background,
                said_size = d.Size is null ? -1 : (int)d.Size,
                said_position = d.Position is null ? -1 : (int)d.Position,
                said_pattern = d.Pattern is null ? -1 : (int)d.Pattern,
            }));
        }
    }

    private static void WriteNpyHeader(Stream stream, string descr, string shape)
    {
        string header = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}";
        int unpadded = 10 + header.Length + 1;
        header = header.PadRight(header.Length + ((64 - (unpadded % 64)) % 64)) + "\n";
        stream.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0]);
        stream.Write(BitConverter.GetBytes((ushort)header.Length));
        stream.Write(Encoding.Latin1.GetBytes(header));
    }
}
