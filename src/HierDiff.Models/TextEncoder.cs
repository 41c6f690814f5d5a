using HierDiff.Models.Onnx;
using HierDiff.Models.Tokenization;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace HierDiff.Models;

/// <summary>One prompt through CLIP: its token window, the token-sequence embedding the UNet is conditioned on,
/// and the pooled embedding the tree is built on.</summary>
public sealed record EncodedPrompt(TokenWindow Tokens, float[] HiddenStates, float[] Pooled);

/// <summary>The CLIP text encoder (<c>text_encoder/model.onnx</c>): input_ids → last_hidden_state, pooler_output.</summary>
public sealed class TextEncoder : IDisposable
{
    private static readonly Port[] Inputs = [new("input_ids", Port.Integers, [2])];
    private static readonly Port[] Outputs = [new("last_hidden_state", Port.Floats, [3]), new("pooler_output", Port.Floats, [2])];

    private readonly OnnxModel _model;
    private readonly ClipTokenizer _tokenizer;

    internal TextEncoder(string path, OnnxDevice device, ClipTokenizer tokenizer)
    {
        _model = OnnxModel.Open(path, device, Inputs, Outputs);
        _tokenizer = tokenizer;
        SequenceLength = _model.FixedDimension("input_ids", 1) ?? 77;
    }

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
                runOptions, ["input_ids"], [ids.Value], ["last_hidden_state", "pooler_output"]);
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
