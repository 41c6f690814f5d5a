using System.Text.Json;
using HierDiff.ShapesWorld.World;

namespace HierDiff.ShapesWorld.Tests;

/// <summary>Run folders as <c>hierdiff generate</c> writes them: manifest.json and images/0000.png ...</summary>
internal static class TestRuns
{
    public static readonly string[] Prompts =
    [
        "a large red circle on a blue background",
        "a red circle in the top, blue background",
        "red circle",
        "blue background with a red circle",
        "a striped red circle on a blue background",
        "a large red circle on a blue background, dotted",
        "an orange square on a white background",
    ];

    /// <summary>A run whose image i shows <paramref name="scene"/>(i); <paramref name="scale"/> 2 writes 128 x 128 images.</summary>
    public static string Write(string folder, IReadOnlyList<string> prompts, Func<int, Scene> scene, double savings, string mode, int scale = 1)
    {
        Directory.CreateDirectory(Path.Combine(folder, "images"));
        var entries = new List<object>();
        for (int i = 0; i < prompts.Count; i++)
        {
            string image = $"images/{i:0000}.png";
            byte[] rgb = SceneRenderer.Render(scene(i));
            int size = SceneRenderer.Size * scale;
            var scaled = new byte[size * size * 3];
            for (int y = 0; y < size; y++)
            {
                for (int x = 0; x < size; x++)
                {
                    Array.Copy(rgb, (((y / scale) * SceneRenderer.Size) + (x / scale)) * 3, scaled, ((y * size) + x) * 3, 3);
                }
            }

            File.WriteAllBytes(Path.Combine(folder, image), TestPng.Encode(size, size, scaled));
            entries.Add(new { index = i, text = prompts[i], image, tokens = 9, truncated = false });
        }

        var manifest = new
        {
            mode,
            model = "shapes-test",
            prompts = entries,
            images = entries.Select((_, i) => $"images/{i:0000}.png").ToArray(),
            steps = 20,
            denoiser_calls = (long)Math.Round(20 * prompts.Count * (1 - savings)),
            standard_denoiser_calls = 20 * prompts.Count,
            savings,
        };
        File.WriteAllText(Path.Combine(folder, "manifest.json"), JsonSerializer.Serialize(manifest));
        return folder;
    }

    /// <summary>The scene each prompt describes, what it leaves unsaid drawn from a fixed seed.</summary>
    public static Func<int, Scene> Matching(IReadOnlyList<string> prompts, int seed)
    {
        var random = new Random(seed);
        Scene[] scenes = prompts.Select(p => PromptWriter.Realise(HierDiff.ShapesWorld.Evaluation.PromptParser.Parse(p), random)).ToArray();
        return i => scenes[i];
    }
}
