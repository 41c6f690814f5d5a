// Checks an export of tools/export-kandinsky22.py: each graph against the torch outputs its --save-check folder holds, run
// by ONNX Runtime's .NET build (for machines without Python's onnxruntime), then the export loaded and run by HierDiff.
// dotnet run --project tools/check-kandinsky-export -c Release -- EXPORT_FOLDER SAVE_CHECK_FOLDER
using System.Text.Json;
using HierDiff.Core.Sampling;
using HierDiff.Models;
using HierDiff.Models.Onnx;
using Microsoft.ML.OnnxRuntime;

string export = args[0], checks = args[1];
bool allOk = true;
foreach (string file in Directory.GetFiles(checks, "*.json").Order())
{
    using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(file));
    JsonElement root = doc.RootElement;
    string model = Path.Combine(export, Path.GetFileNameWithoutExtension(file) switch
    {
        "text_encoder" => "prior/text_encoder",
        "prior" => "prior/prior",
        var other => other,
    }, "model.onnx");
    using var session = new InferenceSession(model);
    var inputs = new Dictionary<string, OrtValue>();
    foreach (JsonProperty input in root.GetProperty("inputs").EnumerateObject())
    {
        long[] shape = [.. input.Value.GetProperty("shape").EnumerateArray().Select(v => v.GetInt64())];
        JsonElement values = input.Value.GetProperty("values");
        inputs[input.Name] = input.Value.GetProperty("dtype").GetString() switch
        {
            "bool" => OrtValue.CreateTensorValueFromMemory(values.EnumerateArray().Select(v => v.GetBoolean()).ToArray(), shape),
            "int64" => OrtValue.CreateTensorValueFromMemory(values.EnumerateArray().Select(v => (long)v.GetDouble()).ToArray(), shape),
            _ => OrtValue.CreateTensorValueFromMemory(values.EnumerateArray().Select(v => (float)v.GetDouble()).ToArray(), shape),
        };
    }

    string[] names = [.. root.GetProperty("outputs").EnumerateObject().Select(o => o.Name)];
    using var options = new RunOptions();
    using var outputs = session.Run(options, inputs, names);
    for (int i = 0; i < names.Length; i++)
    {
        float[] got = outputs[i].GetTensorDataAsSpan<float>().ToArray();
        double[] want = [.. root.GetProperty("outputs").GetProperty(names[i]).GetProperty("values").EnumerateArray().Select(v => v.GetDouble())];
        double diff = got.Zip(want, (a, b) => Math.Abs(a - b)).Max(), scale = Math.Max(1, want.Max(Math.Abs));
        bool ok = got.Length == want.Length && diff <= 1e-4 * scale;
        allOk &= ok;
        Console.WriteLine($"{(ok ? "ok" : "MISMATCH")} {Path.GetFileName(file)} {names[i]}: {got.Length} values, max |onnx - torch| = {diff:G3} (scale {scale:G3})");
    }
}

using var k = Kandinsky22Model.Load(export, OnnxDevice.Cpu);
Console.WriteLine($"loaded {k.Name}: latent {k.Latent}, UNet out channels {k.UNet.OutputChannels}, embedding {k.Prior.EmbeddingDim}, fingerprint {k.Fingerprint}");
IReadOnlyList<PromptEncoding> encoded = k.Encode(["a red circle", "a red circle, striped", "a green square"]);
Console.WriteLine($"image embeddings: {string.Join(" | ", encoded.Select(e => string.Join(", ", e.ClusterEmbedding.Take(3).Select(v => v.ToString("F3")))))}");
float[] latent = [.. Enumerable.Range(0, k.Latent.Length).Select(i => (float)Math.Sin(i))];
var output = new float[latent.Length];
k.CreateDenoiser(k.NegativeConditioning(""), 4).Predict([new DenoiserInput(latent, 999, encoded[0].Conditioning)], [output]);
Console.WriteLine($"guided noise finite: {output.All(float.IsFinite)}, first {output[0]:F4}");
var images = k.Decode([latent]);
Console.WriteLine($"decoded {images[0].Width}x{images[0].Height}");
return allOk ? 0 : 1;
