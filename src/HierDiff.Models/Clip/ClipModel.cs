using HierDiff.Core;
using HierDiff.Models.Images;
using HierDiff.Models.Onnx;
using HierDiff.Models.Tokenization;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace HierDiff.Models.Clip;

/// <summary>
/// A CLIP model as optimum exports it (<c>openai/clip-vit-base-patch32</c>, <c>-large-patch14</c>), for scoring images
/// against their prompts: either one <c>model.onnx</c> (input_ids, pixel_values, attention_mask → text_embeds,
/// image_embeds, logits) or the split variant's <c>text_model.onnx</c> (input_ids[, attention_mask] → text_embeds)
/// and <c>vision_model.onnx</c> (pixel_values → image_embeds); beside them the tokenizer files and
/// <c>preprocessor_config.json</c>. Prompts are tokenised to 77 ids with their attention mask (padding is masked,
/// so it gives what transformers' padding to the longest gives); images are preprocessed by
/// <see cref="ClipImageProcessor"/>.
/// </summary>
public sealed class ClipModel : IDisposable
{
    public const string MonolithFile = "model.onnx";
    public const string TextFile = "text_model.onnx";
    public const string VisionFile = "vision_model.onnx";

    private const int BatchSize = 16;
    private static readonly Port Ids = new("input_ids", Port.Integers, [2]);
    private static readonly Port Mask = new("attention_mask", Port.Integers, [2]);
    private static readonly Port Pixels = new("pixel_values", Port.Floats, [4]);
    private static readonly Port TextEmbeds = new("text_embeds", Port.Floats, [2]);
    private static readonly Port ImageEmbeds = new("image_embeds", Port.Floats, [2]);

    private readonly OnnxModel? _monolith;
    private readonly OnnxModel? _text;
    private readonly OnnxModel? _vision;
    private readonly ClipTokenizer _tokenizer;
    private readonly ClipImageProcessor _processor;

    private ClipModel(string directory, ClipTokenizer tokenizer, ClipImageProcessor processor, OnnxModel? monolith, OnnxModel? text, OnnxModel? vision)
    {
        Directory = directory;
        _tokenizer = tokenizer;
        _processor = processor;
        _monolith = monolith;
        _text = text;
        _vision = vision;
    }

    /// <summary>The export folder.</summary>
    public string Directory { get; }

    /// <summary>The folder's name, as scores.json records it.</summary>
    public string Name => Path.GetFileName(Directory.TrimEnd('/', '\\'));

    /// <summary>How the images reach the model.</summary>
    public ClipImageProcessor Processor => _processor;

    /// <summary>Opens a CLIP export folder; what is missing or of the wrong shape is named with its file.</summary>
    public static ClipModel Load(string directory, OnnxDevice? device = null)
    {
        device ??= OnnxDevice.Cpu;
        string full = Path.GetFullPath(directory);
        if (!System.IO.Directory.Exists(full))
        {
            throw new HierDiffInputException($"{directory}: no such CLIP evaluator folder");
        }

        bool monolith = File.Exists(Path.Combine(full, MonolithFile));
        bool split = File.Exists(Path.Combine(full, TextFile)) && File.Exists(Path.Combine(full, VisionFile));
        if (!monolith && !split)
        {
            throw new HierDiffInputException(
                $"{directory}: not a CLIP ONNX export: expected {MonolithFile} (optimum's CLIP export) or {TextFile} and {VisionFile}, " +
                "with the tokenizer files and preprocessor_config.json beside them");
        }

        ClipTokenizer tokenizer = ClipTokenizer.Load(full);
        ClipImageProcessor processor = ClipImageProcessor.Load(Path.Combine(full, ClipImageProcessor.FileName));
        if (monolith)
        {
            OnnxModel model = OpenTextModel(Path.Combine(full, MonolithFile), device, [Pixels], [TextEmbeds, ImageEmbeds]);
            return new ClipModel(full, tokenizer, processor, model, null, null);
        }

        OnnxModel text = OpenTextModel(Path.Combine(full, TextFile), device, [], [TextEmbeds]);
        try
        {
            OnnxModel vision = OnnxModel.Open(Path.Combine(full, VisionFile), device, [Pixels], [ImageEmbeds]);
            return new ClipModel(full, tokenizer, processor, null, text, vision);
        }
        catch
        {
            text.Dispose();
            throw;
        }
    }

    /// <summary>The CLIP score of an image against its prompt: 100 x max(cos(text, image), 0), as torchmetrics'
    /// CLIPScore defines it.</summary>
    public static double Score(float[] textEmbedding, float[] imageEmbedding) => ScoreOf(Cosine(textEmbedding, imageEmbedding));

    /// <summary>The CLIP score of a cosine between a text and an image embedding.</summary>
    public static double ScoreOf(double cosine) => 100 * Math.Max(cosine, 0);

    public static double Cosine(float[] a, float[] b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.Length != b.Length)
        {
            throw new ArgumentException($"embeddings of {a.Length} and {b.Length} values", nameof(b));
        }

        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++)
        {
            dot += (double)a[i] * b[i];
            na += (double)a[i] * a[i];
            nb += (double)b[i] * b[i];
        }

        return na == 0 || nb == 0 ? 0 : dot / Math.Sqrt(na * nb);
    }

    /// <summary>The text embedding of each prompt and the image embedding of each image, in order (batches of 16).</summary>
    public (float[][] Texts, float[][] Images) Embed(IReadOnlyList<string> texts, IReadOnlyList<RgbImage> images)
    {
        ArgumentNullException.ThrowIfNull(texts);
        ArgumentNullException.ThrowIfNull(images);
        var textEmbeds = new List<float[]>(texts.Count);
        var imageEmbeds = new List<float[]>(images.Count);
        for (int first = 0; first < Math.Max(texts.Count, images.Count); first += BatchSize)
        {
            string[] textBatch = texts.Skip(first).Take(BatchSize).ToArray();
            RgbImage[] imageBatch = images.Skip(first).Take(BatchSize).ToArray();
            if (_monolith is not null)
            {
                // One session takes both: a batch short of either gets one placeholder, whose embedding is dropped.
                string[] t = textBatch.Length > 0 ? textBatch : [""];
                RgbImage[] i = imageBatch.Length > 0 ? imageBatch : [new RgbImage(1, 1, new byte[3])];
                float[][][] both = Run(_monolith, [.. TextInputs(_monolith, t), (Pixels.Name, PixelTensor(_monolith, i))], [(TextEmbeds.Name, t.Length), (ImageEmbeds.Name, i.Length)]);
                textEmbeds.AddRange(both[0].Take(textBatch.Length));
                imageEmbeds.AddRange(both[1].Take(imageBatch.Length));
            }
            else
            {
                if (textBatch.Length > 0)
                {
                    textEmbeds.AddRange(Run(_text!, TextInputs(_text!, textBatch), [(TextEmbeds.Name, textBatch.Length)])[0]);
                }

                if (imageBatch.Length > 0)
                {
                    imageEmbeds.AddRange(Run(_vision!, [(Pixels.Name, PixelTensor(_vision!, imageBatch))], [(ImageEmbeds.Name, imageBatch.Length)])[0]);
                }
            }
        }

        return ([.. textEmbeds], [.. imageEmbeds]);
    }

    public void Dispose()
    {
        _monolith?.Dispose();
        _text?.Dispose();
        _vision?.Dispose();
    }

    /// <summary>Opens a model that reads input_ids, attention_mask where it has one, and <paramref name="others"/>.</summary>
    private static OnnxModel OpenTextModel(string path, OnnxDevice device, Port[] others, Port[] outputs) =>
        OnnxModel.Open(path, device, [.. others, Ids], outputs, optionalInputs: [Mask]);

    /// <summary>One session run: each output's rows, one per input of its batch. The input tensors are disposed.</summary>
    private static float[][][] Run(OnnxModel model, List<(string Name, ModelTensor Tensor)> inputs, (string Name, int Count)[] outputs)
    {
        try
        {
            using var runOptions = new RunOptions();
            using IDisposableReadOnlyCollection<OrtValue> values = model.Session.Run(
                runOptions, inputs.Select(i => i.Name).ToArray(), inputs.Select(i => i.Tensor.Value).ToArray(), outputs.Select(o => o.Name).ToArray());
            return [.. outputs.Select((o, k) => Rows(values[k], o.Count, model.Path))];
        }
        finally
        {
            foreach ((string _, ModelTensor tensor) in inputs)
            {
                tensor.Dispose();
            }
        }
    }

    /// <summary>input_ids (77 per prompt, padded with the pad token) and, where the model takes it, attention_mask
    /// (1 for the start token, the prompt's tokens and the end token).</summary>
    private List<(string Name, ModelTensor Tensor)> TextInputs(OnnxModel model, string[] texts)
    {
        int length = model.FixedDimension(Ids.Name, 1) ?? ClipTokenizer.DefaultLength;
        var ids = new ModelTensor(model.InputType(Ids.Name), [texts.Length, length]);
        var inputs = new List<(string, ModelTensor)> { (Ids.Name, ids) };
        ModelTensor? mask = model.Inputs.ContainsKey(Mask.Name) ? new ModelTensor(model.InputType(Mask.Name), [texts.Length, length]) : null;
        if (mask is not null)
        {
            inputs.Add((Mask.Name, mask));
        }

        for (int b = 0; b < texts.Length; b++)
        {
            TokenWindow window = _tokenizer.EncodeWindow(texts[b], length);
            int real = Math.Min(window.TokenCount, length);
            for (int j = 0; j < length; j++)
            {
                ids.Write((b * length) + j, window.Ids[j]);
                mask?.Write((b * length) + j, j < real ? 1 : 0);
            }
        }

        return inputs;
    }

    private ModelTensor PixelTensor(OnnxModel model, RgbImage[] images)
    {
        int h = _processor.CropHeight, w = _processor.CropWidth;
        if (model.FixedDimension(Pixels.Name, 2) is int fh && model.FixedDimension(Pixels.Name, 3) is int fw && (fh != h || fw != w))
        {
            throw new HierDiffInputException(
                $"{model.Path}: takes {fw} x {fh} images, but {_processor.Path} crops them to {w} x {h}");
        }

        var tensor = new ModelTensor(model.InputType(Pixels.Name), [images.Length, 3, h, w]);
        int per = 3 * h * w;
        for (int b = 0; b < images.Length; b++)
        {
            tensor.WriteFloats(b * per, _processor.PixelValues(images[b]));
        }

        return tensor;
    }

    private static float[][] Rows(OrtValue value, int count, string path)
    {
        float[] all = TextEncoder.ReadFloats(value);
        if (count == 0 || all.Length % count != 0)
        {
            throw new HierDiffInputException($"{path}: gave {all.Length} embedding values for {count} inputs");
        }

        int per = all.Length / count;
        return Enumerable.Range(0, count).Select(i => all[(i * per)..((i + 1) * per)]).ToArray();
    }
}
