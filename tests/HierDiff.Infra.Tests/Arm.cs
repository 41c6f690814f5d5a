using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace HierDiff.Infra.Tests;

/// <summary>Walks compiled ARM JSON: resources of nested module deployments included.</summary>
public static class Arm
{
    private static readonly JsonSerializerOptions Unescaped = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>JSON text as written, quotes and ampersands unescaped, for searching ARM expressions.</summary>
    public static string Text(JsonNode node) => node.ToJsonString(Unescaped);

    /// <summary>A resource and the template (main or a module's) that declares it.</summary>
    public sealed record Resource(JsonObject Json, JsonObject Template)
    {
        public string Type => (string)Json["type"]!;

        public JsonObject Properties => Json["properties"]!.AsObject();
    }

    /// <summary>Every template: the root and each module's, however deeply nested.</summary>
    public static IEnumerable<JsonObject> Templates(JsonObject root)
    {
        yield return root;
        foreach (JsonObject resource in ResourceList(root))
        {
            if ((string?)resource["type"] == "Microsoft.Resources/deployments"
                && resource["properties"]?["template"] is JsonObject nested)
            {
                foreach (JsonObject template in Templates(nested))
                {
                    yield return template;
                }
            }
        }
    }

    /// <summary>Resources of a type that the templates declare (not references to existing ones).</summary>
    public static IEnumerable<Resource> Resources(JsonObject root, string type) =>
        Templates(root).SelectMany(t => ResourceList(t).Select(r => new Resource(r, t)))
            .Where(r => string.Equals(r.Type, type, StringComparison.OrdinalIgnoreCase) && r.Json["existing"] is null);

    /// <summary>Module deployments whose template declares a resource of the given type.</summary>
    public static IEnumerable<JsonObject> ModulesDeclaring(JsonObject root, string type) =>
        Resources(root, "Microsoft.Resources/deployments")
            .Select(r => r.Json)
            .Where(d => d["properties"]?["template"] is JsonObject t
                && ResourceList(t).Any(r => string.Equals((string?)r["type"], type, StringComparison.OrdinalIgnoreCase)));

    /// <summary>The value a module deployment passes to one of its parameters.</summary>
    public static JsonNode? ModuleParameter(JsonObject deployment, string name) =>
        deployment["properties"]!["parameters"]![name]?["value"];

    // Bicep writes resources as an array, or as an object keyed by symbolic name (language version 2.0).
    private static IEnumerable<JsonObject> ResourceList(JsonObject template) => template["resources"] switch
    {
        JsonArray array => array.OfType<JsonObject>(),
        JsonObject map => map.Select(p => p.Value).OfType<JsonObject>(),
        _ => [],
    };
}
