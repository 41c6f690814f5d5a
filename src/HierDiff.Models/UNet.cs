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
    private Buffers? _buffers;
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
    /// hiddenStates batch x (tokens x hidden size). Returns the seconds the model itself took (not counting any wait
    /// for another caller's run to finish).
    /// </summary>
    public double Run(int batch, ReadOnlySpan<float> samples, double timestep, ReadOnlySpan<float> hiddenStates, Span<float> output, int latentHeight, int latentWidth)
    {
        int tokens = _model.FixedDimension("encoder_hidden_states", 1) ?? 77;
        int perItem = hiddenStates.Length / batch;
        if (perItem % tokens != 0)
        {
            throw new HierDiffInputException($"{_model.Path}: encoder_hidden_states of {perItem} values per item do not split into {tokens} tokens");
        }

        lock (_gate)
        {
            long started = System.Diagnostics.Stopwatch.GetTimestamp();
            Buffers buffers = Reserve(batch, samples.Length, hiddenStates.Length);
            long[] latentShape = [batch, LatentChannels, latentHeight, latentWidth];
            long[] timestepShape = _model.Inputs["timestep"].Dimensions.Length == 0 ? [] : [batch];
            buffers.Sample.WriteFloats(0, samples);
            for (int i = 0; i < (timestepShape.Length == 0 ? 1 : batch); i++)
            {
                buffers.Timestep.Write(i, timestep);
            }

            buffers.Hidden.WriteFloats(0, hiddenStates);
            OrtValue[] inputs =
            [
                buffers.Sample.View(latentShape),
                buffers.Timestep.View(timestepShape),
                buffers.Hidden.View([batch, tokens, perItem / tokens]),
            ];
            _model.Session.Run(_runOptions, InputNames, inputs, OutputNames, [buffers.Output.View(latentShape)]);
            buffers.Output.ReadFloats(0, output);
            return System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds;
        }
    }

    public void Dispose()
    {
        _buffers?.Dispose();
        _runOptions.Dispose();
        _model.Dispose();
    }

    private static readonly string[] InputNames = ["sample", "timestep", "encoder_hidden_states"];
    private static readonly string[] OutputNames = ["out_sample"];

    /// <summary>Buffers big enough for this call: the largest call so far sets their size, smaller ones share them.</summary>
    private Buffers Reserve(int batch, int sampleLength, int hiddenLength)
    {
        if (_buffers is not null && _buffers.Sample.Capacity >= sampleLength && _buffers.Hidden.Capacity >= hiddenLength && _buffers.Timestep.Capacity >= batch)
        {
            return _buffers;
        }

        _buffers?.Dispose();
        _buffers = new Buffers(
            new ModelTensor(_model.InputType("sample"), sampleLength),
            new ModelTensor(_model.InputType("timestep"), Math.Max(1, batch)),
            new ModelTensor(_model.InputType("encoder_hidden_states"), hiddenLength),
            new ModelTensor(_model.OutputType("out_sample"), sampleLength));
        return _buffers;
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
