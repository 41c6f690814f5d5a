using System.Text.Json.Nodes;
using HierDiff.Models.Images;
using HierDiff.ShapesWorld.Evaluation;
using HierDiff.ShapesWorld.World;

namespace HierDiff.Cli.Tests;

/// <summary>
/// A small run folder laid out as <c>hierdiff generate</c> writes one, for tests to break: three shapes-world prompts
/// with images that show them (so eval and compare work on it), manifest.json and plan.json, in which prompts 0 and 1
/// share steps 0-2 as node 3 and node 4 joins node 3 and prompt 2 without steps of its own.
/// </summary>
internal sealed class TestRunFolder
{
    public static readonly string[] Prompts =
    [
        "a large red circle on a blue background",
        "a green square on a white background, striped",
        "yellow background with a small purple triangle at the left",
    ];

    public TestRunFolder(string path)
    {
        Path = path;
        Directory.CreateDirectory(System.IO.Path.Combine(path, "images"));
        var random = new Random(7);
        var prompts = new JsonArray();
        for (int i = 0; i < Prompts.Length; i++)
        {
            Scene scene = PromptWriter.Realise(PromptParser.Parse(Prompts[i]), random);
            string image = $"images/{i:0000}.png";
            System.IO.File.WriteAllBytes(System.IO.Path.Combine(path, image), PngEncoder.Encode(new RgbImage(64, 64, SceneRenderer.Render(scene))));
            prompts.Add(new JsonObject { ["index"] = i, ["text"] = Prompts[i], ["image"] = image, ["tokens"] = 10, ["truncated"] = false });
        }

        WriteJson(Manifest, new JsonObject
        {
            ["mode"] = "hierarchical",
            ["prompts"] = prompts,
            ["steps"] = 4,
            ["tau"] = 0.3,
            ["denoiser_calls"] = 10,
            ["standard_denoiser_calls"] = 12,
            ["savings"] = 1 - (10 / 12.0),
        });
        WriteJson(Plan, JsonNode.Parse("""
            {
              "mode": "hierarchical", "tau": 0.3, "steps": 4, "prompts": 3,
              "tree": [
                { "node": 3, "left": 0, "right": 1, "score": 0.1, "count": 2 },
                { "node": 4, "left": 3, "right": 2, "score": 0.9, "count": 3 }
              ],
              "segments": [
                { "node": 2, "start": 0, "end": 4, "source": -1, "members": [2], "score": 0.0 },
                { "node": 3, "start": 0, "end": 2, "source": -1, "members": [0, 1], "score": 0.1 },
                { "node": 0, "start": 2, "end": 4, "source": 3, "members": [0], "score": 0.0 },
                { "node": 1, "start": 2, "end": 4, "source": 3, "members": [1], "score": 0.0 }
              ]
            }
            """)!);
    }

    public string Path { get; }

    public string Manifest => File("manifest.json");

    public string Plan => File("plan.json");

    public string Scores => File("scores.json");

    public string Report => File("report.html");

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void EditManifest(Action<JsonObject> edit) => Edit(Manifest, edit);

    public void EditPlan(Action<JsonObject> edit) => Edit(Plan, edit);

    /// <summary>The entry at <paramref name="position"/> of the manifest's prompts.</summary>
    public void EditPrompt(int position, Action<JsonObject> edit) => EditManifest(m => edit(m["prompts"]![position]!.AsObject()));

    private static void Edit(string path, Action<JsonObject> edit)
    {
        JsonObject json = JsonNode.Parse(System.IO.File.ReadAllText(path))!.AsObject();
        edit(json);
        WriteJson(path, json);
    }

    private static void WriteJson(string path, JsonNode json) =>
        System.IO.File.WriteAllText(path, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
}
