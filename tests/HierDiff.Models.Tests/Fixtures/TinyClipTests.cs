using HierDiff.TestModels;
using Microsoft.ML.OnnxRuntime;

namespace HierDiff.Models.Tests.Fixtures;

/// <summary>The fixture responds to every input it takes, and its files are optimum's.</summary>
public sealed class TinyClipTests
{
    [Theory]
    [InlineData(ClipLayout.Monolith, new[] { "model.onnx" })]
    [InlineData(ClipLayout.Split, new[] { "text_model.onnx", "vision_model.onnx" })]
    public void Folder_HasOptimumsFiles(ClipLayout layout, string[] models)
    {
        using var temp = new TempDirectory();
        string folder = TinyClip.Write(temp.Sub("clip"), layout);
        foreach (string file in models.Concat(["config.json", "preprocessor_config.json", "vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"]))
        {
            Assert.True(File.Exists(Path.Combine(folder, file)), file);
        }

        if (layout == ClipLayout.Monolith)
        {
            using var session = new InferenceSession(Path.Combine(folder, "model.onnx"));
            Assert.Equal(["attention_mask", "input_ids", "pixel_values"], session.InputMetadata.Keys.Order());
            Assert.Equal(["logits_per_image", "logits_per_text", "text_embeds", "image_embeds"], session.OutputMetadata.Keys);
        }
    }

    [Fact]
    public void EveryInput_MovesItsEmbedding()
    {
        using var temp = new TempDirectory();
        string folder = TinyClip.Write(temp.Sub("clip"));
        using var session = new InferenceSession(Path.Combine(folder, "model.onnx"));
        long[] ids = [49406, 320, 736, 2866, 49407, .. Enumerable.Repeat(49407L, 72)];
        long[] mask = [.. Enumerable.Repeat(1L, 5), .. Enumerable.Repeat(0L, 72)];
        var pixels = new float[3 * 224 * 224];
        for (int i = 0; i < pixels.Length; i++)
        {
            pixels[i] = (float)Math.Sin(i * 0.001);
        }

        (float[] text, float[] image) = Run(session, ids, mask, pixels);
        long[] otherToken = (long[])ids.Clone();
        otherToken[2] = 1000;
        long[] otherMask = (long[])mask.Clone();
        otherMask[1] = 0;
        float[] otherPixel = (float[])pixels.Clone();
        otherPixel[^1] += 1;

        Assert.NotEqual(text, Run(session, otherToken, mask, pixels).Text);
        Assert.NotEqual(text, Run(session, ids, otherMask, pixels).Text);
        Assert.NotEqual(image, Run(session, ids, mask, otherPixel).Image);
        Assert.Equal(image, Run(session, otherToken, otherMask, pixels).Image);
    }

    private static (float[] Text, float[] Image) Run(InferenceSession session, long[] ids, long[] mask, float[] pixels)
    {
        using OrtValue idValue = OrtValue.CreateTensorValueFromMemory(ids, [1, ids.Length]);
        using OrtValue maskValue = OrtValue.CreateTensorValueFromMemory(mask, [1, mask.Length]);
        using OrtValue pixelValue = OrtValue.CreateTensorValueFromMemory(pixels, [1, 3, 224, 224]);
        using var options = new RunOptions();
        using var outputs = session.Run(options, ["input_ids", "attention_mask", "pixel_values"], [idValue, maskValue, pixelValue], ["text_embeds", "image_embeds"]);
        return (outputs[0].GetTensorDataAsSpan<float>().ToArray(), outputs[1].GetTensorDataAsSpan<float>().ToArray());
    }
}
