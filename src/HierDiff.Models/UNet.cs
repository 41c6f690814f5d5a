using HierDiff.Core;
using HierDiff.Models.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace HierDiff.Models;

/// <summary>
/// The denoiser (<c>unet/model.onnx</c>): sample, timestep, encoder_hidden_states → out_sample. The timestep may be
/// int64 [B] (older exports), float32 [B] or a float scalar (newer optimum), float16 in fp16 exports: it is written
/// in whatever type and rank the export declares. Input and output tensors are allocated once per batch size.
/// </summary>
public sealed class UNet : IDisposable
{
    private static readonly Port[] Inputs =
    [
        new("sample", Port.Floats, [4]),
        new("timestep", [.. Port.Floats, .. Port.Integers], [0, 1]),
        new("encoder_hidden_states", Port.Floats, [3]),
    ];

    private static readonly Port[] Outputs = [new("out_sample", Port.Floats, [4])];

    private readonly OnnxModel _model;
    private readonly Dictionary<(int Batch, int Hidden), Buffers> _buffers = [];
    private readonly RunOptions _runOptions = new();
    private readonly object _gate = new();

    internal UNet(string path, OnnxDevice device)
    {
        _model = OnnxModel.Open(path, device, Inputs, Outputs);
        LatentChannels = _model.FixedDimension("sample", 1) ?? 4;
    }

    public int LatentChannels { get; }

    /// <summary>Latent height and width: fixed in the export, else from unet/config.json, else 64 (512 px).</summary>
    internal (int Height, int Width) LatentSize(int? configured)
    {
        int? h = _model.FixedDimension("sample", 2);
        int? w = _model.FixedDimension("sample", 3);
        return (h ?? configured ?? 64, w ?? configured ?? 64);
    }

    /// <summary>
    /// One call for <paramref name="batch"/> items at one timestep: samples and outputs are batch x latent length,
    /// hiddenStates batch x (tokens x hidden size).
    /// </summary>
    public void Run(int batch, ReadOnlySpan<float> samples, double timestep, ReadOnlySpan<float> hiddenStates, Span<float> output, int latentHeight, int latentWidth)
    {
        int hidden = hiddenStates.Length / batch;
        lock (_gate)
        {
            Buffers buffers = Get(batch, hidden, latentHeight, latentWidth);
            buffers.Sample.WriteFloats(0, samples);
            for (int i = 0; i < buffers.Timestep.Length; i++)
            {
                buffers.Timestep.Write(i, timestep);
            }

            buffers.Hidden.WriteFloats(0, hiddenStates);
            _model.Session.Run(_runOptions, InputNames, [buffers.Sample.Value, buffers.Timestep.Value, buffers.Hidden.Value], OutputNames, [buffers.Output.Value]);
            buffers.Output.ReadFloats(0, output);
        }
    }

    public void Dispose()
    {
        foreach (Buffers b in _buffers.Values)
        {
            b.Dispose();
        }

        _runOptions.Dispose();
        _model.Dispose();
    }

    private static readonly string[] InputNames = ["sample", "timestep", "encoder_hidden_states"];
    private static readonly string[] OutputNames = ["out_sample"];

    private Buffers Get(int batch, int hidden, int height, int width)
    {
        if (_buffers.TryGetValue((batch, hidden), out Buffers? existing))
        {
            return existing;
        }

        // The token count is the text encoder's window; the hidden size follows from it.
        int? tokens = _model.FixedDimension("encoder_hidden_states", 1);
        int tokenCount = tokens ?? 77;
        if (hidden % tokenCount != 0)
        {
            throw new HierDiffInputException($"{_model.Path}: encoder_hidden_states of {hidden} values per item do not split into {tokenCount} tokens");
        }

        long[] timestepShape = _model.Inputs["timestep"].Dimensions.Length == 0 ? [] : [batch];
        var created = new Buffers(
            new ModelTensor(_model.InputType("sample"), [batch, LatentChannels, height, width]),
            new ModelTensor(_model.InputType("timestep"), timestepShape),
            new ModelTensor(_model.InputType("encoder_hidden_states"), [batch, tokenCount, hidden / tokenCount]),
            new ModelTensor(_model.OutputType("out_sample"), [batch, LatentChannels, height, width]));
        _buffers[(batch, hidden)] = created;
        return created;
    }

    private sealed record Buffers(ModelTensor Sample, ModelTensor Timestep, ModelTensor Hidden, ModelTensor Output) : IDisposable
    {
        public void Dispose()
        {
            Sample.Dispose();
            Timestep.Dispose();
            Hidden.Dispose();
            Output.Dispose();
        }
    }
}
