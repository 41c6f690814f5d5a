using HierDiff.Core;
using HierDiff.Models.Onnx;
using HierDiff.Models.Tokenization;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace HierDiff.Models;

/// <summary>One prompt through CLIP: its token window, the token-sequence embedding the UNet is conditioned on,
/// and the pooled embedding the tree is built on.</summary>
public sealed record EncodedPrompt(TokenWindow Tokens, float[] HiddenStates, float[] Pooled);

/// <summary>Which hidden states a family conditions on: CLIP's last layer (Stable Diffusion 1.x/2.x) or, as SDXL
/// does (diffusers' <c>hidden_states[-2]</c>), the layer before it.</summary>
public enum HiddenLayer
{
    Last,
    Penultimate,
}

/// <summary>
/// A CLIP text encoder (<c>text_encoder/model.onnx</c>): input_ids → hidden states and a pooled vector. Stable
/// Diffusion reads last_hidden_state and pooler_output; SDXL reads <c>hidden_states.N</c> (optimum writes one output
/// per layer for SDXL, 0 being the embeddings) and, from its second encoder (CLIPTextModelWithProjection),
/// text_embeds.
/// </summary>
public sealed class TextEncoder : IDisposable
{
    private static readonly Port[] Inputs = [new("input_ids", Port.Integers, [2])];

    private readonly OnnxModel _model;
    private readonly ClipTokenizer _tokenizer;
    private readonly string[] _outputNames;

    internal TextEncoder(string path, OnnxDevice device, ClipTokenizer tokenizer, HiddenLayer layer = HiddenLayer.Last, string pooled = "pooler_output")
    {
        _model = OnnxModel.Open(path, device, Inputs, []);
        try
        {
            string hidden = layer == HiddenLayer.Last ? "last_hidden_state" : PenultimateLayer(_model);
            _model.RequireOutputs([new(hidden, Port.Floats, [3]), new(pooled, Port.Floats, [2])]);
            _outputNames = [hidden, pooled];
        }
        catch
        {
            _model.Dispose();
            throw;
        }

        _tokenizer = tokenizer;
        SequenceLength = _model.FixedDimension("input_ids", 1) ?? 77;
    }

    /// <summary>Width of the hidden states, where the export fixes it.</summary>
    public int? HiddenSize => _model.FixedOutputDimension(_outputNames[0], 2);

    /// <summary>Width of the pooled vector, where the export fixes it.</summary>
    public int? PooledSize => _model.FixedOutputDimension(_outputNames[1], 1);

    /// <summary>The token window: 77 for CLIP.</summary>
    public int SequenceLength { get; }

    /// <summary>Encodes prompts in batches; results are in prompt order.</summary>
    public IReadOnlyList<EncodedPrompt> Encode(IReadOnlyList<string> texts, int batchSize = 16)
    {
        var results = new List<EncodedPrompt>(texts.Count);
        TensorElementType idType = _model.InputType("input_ids");
        for (int first = 0; first < texts.Count; first += batchSize)
        {
            int count = Math.Min(batchSize, texts.Count - first);
            TokenWindow[] windows = texts.Skip(first).Take(count).Select(t => _tokenizer.EncodeWindow(t, SequenceLength)).ToArray();
            using var ids = new ModelTensor(idType, [count, SequenceLength]);
            for (int b = 0; b < count; b++)
            {
                for (int j = 0; j < SequenceLength; j++)
                {
                    ids.Write((b * SequenceLength) + j, windows[b].Ids[j]);
                }
            }

            using var runOptions = new RunOptions();
            using IDisposableReadOnlyCollection<OrtValue> outputs = _model.Session.Run(
                runOptions, ["input_ids"], [ids.Value], _outputNames);
            float[] hidden = ReadFloats(outputs[0]);
            float[] pooled = ReadFloats(outputs[1]);
            int hiddenPer = hidden.Length / count;
            int pooledPer = pooled.Length / count;
            for (int b = 0; b < count; b++)
            {
                results.Add(new EncodedPrompt(windows[b], hidden[(b * hiddenPer)..((b + 1) * hiddenPer)], pooled[(b * pooledPer)..((b + 1) * pooledPer)]));
            }
        }

        return results;
    }

    public void Dispose() => _model.Dispose();

    /// <summary>The output diffusers reads as <c>hidden_states[-2]</c>: optimum names layer outputs hidden_states.0
    /// (the embeddings) to hidden_states.L, so it is hidden_states.(L - 1).</summary>
    private static string PenultimateLayer(OnnxModel model)
    {
        int[] layers = model.Outputs.Keys
            .Where(n => n.StartsWith("hidden_states.", StringComparison.Ordinal))
            .Select(n => int.TryParse(n["hidden_states.".Length..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int i) ? i : -1)
            .Where(i => i >= 0)
            .ToArray();
        return layers.Length >= 2
            ? $"hidden_states.{layers.Max() - 1}"
            : throw new HierDiffInputException(
                $"{model.Path}: expected outputs hidden_states.0 … hidden_states.L (optimum writes them for SDXL text encoders); found outputs {string.Join(", ", model.Outputs.Keys)}");
    }

    internal static float[] ReadFloats(OrtValue value)
    {
        OrtTensorTypeAndShapeInfo info = value.GetTensorTypeAndShape();
        if (info.ElementDataType == TensorElementType.Float)
        {
            return value.GetTensorDataAsSpan<float>().ToArray();
        }

        ReadOnlySpan<Float16> halves = value.GetTensorDataAsSpan<Float16>();
        var floats = new float[halves.Length];
        for (int i = 0; i < floats.Length; i++)
        {
            floats[i] = (float)System.Runtime.CompilerServices.Unsafe.BitCast<Float16, Half>(halves[i]);
        }

        return floats;
    }
}
