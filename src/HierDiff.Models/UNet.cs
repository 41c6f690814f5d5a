using HierDiff.Core;
using HierDiff.Models.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace HierDiff.Models;

/// <summary>A UNet input beside encoder_hidden_states: its name and its width per batch row.</summary>
public sealed record UNetInput(string Name, int Width);

/// <summary>
/// The denoiser (<c>unet/model.onnx</c>): sample, timestep, encoder_hidden_states → out_sample, plus the inputs a
/// family adds (SDXL: text_embeds and time_ids). A row's conditioning is laid out flat as encoder_hidden_states
/// then each of <c>conditioning</c>'s inputs; <c>constants</c> are the same for every row. The timestep may be
/// int64 [B] (older exports), float32 [B] or a float scalar (newer optimum), float16 in fp16 exports: it is written
/// in whatever type and rank the export declares. Input and output tensors are allocated once per batch size.
/// </summary>
public sealed class UNet : IDisposable
{
    private static readonly Port[] CommonInputs =
    [
        new("sample", Port.Floats, [4]),
        new("timestep", [.. Port.Floats, .. Port.Integers], [0, 1]),
        new("encoder_hidden_states", Port.Floats, [3]),
    ];

    private static readonly Port[] Outputs = [new("out_sample", Port.Floats, [4])];

    private readonly OnnxModel _model;
    private readonly UNetInput[] _conditioning;
    private readonly (string Name, float[] Values)[] _constants;
    private readonly string[] _inputNames;
    private Buffers? _buffers;
    private readonly RunOptions _runOptions = new();
    private readonly object _gate = new();

    internal UNet(string path, OnnxDevice device)
        : this(path, device, [], [])
    {
    }

    internal UNet(string path, OnnxDevice device, IReadOnlyList<UNetInput> conditioning, IReadOnlyList<(string Name, float[] Values)> constants)
    {
        Port[] extra = [.. conditioning.Select(c => c.Name).Concat(constants.Select(c => c.Name)).Select(name => new Port(name, Port.Floats, [2]))];
        _model = OnnxModel.Open(path, device, [.. CommonInputs, .. extra], Outputs);
        _conditioning = [.. conditioning];
        _constants = [.. constants];
        _inputNames = [.. CommonInputs.Select(p => p.Name), .. extra.Select(p => p.Name)];
        LatentChannels = _model.FixedDimension("sample", 1) ?? 4;
    }

    /// <summary>A fixed dimension of an input (a family checks its encoders' widths against it), or null.</summary>
    internal int? FixedDimension(string input, int axis) => _model.FixedDimension(input, axis);

    internal string Path => _model.Path;

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
    public double Run(int batch, ReadOnlySpan<float> samples, double timestep, ReadOnlySpan<float> conditioning, Span<float> output, int latentHeight, int latentWidth)
    {
        int tokens = _model.FixedDimension("encoder_hidden_states", 1) ?? 77;
        int perRow = conditioning.Length / batch;
        int hiddenPerRow = perRow - _conditioning.Sum(c => c.Width);
        if (hiddenPerRow <= 0 || hiddenPerRow % tokens != 0)
        {
            throw new HierDiffInputException($"{_model.Path}: encoder_hidden_states of {hiddenPerRow} values per item do not split into {tokens} tokens");
        }

        lock (_gate)
        {
            long started = System.Diagnostics.Stopwatch.GetTimestamp();
            Buffers buffers = Reserve(batch, samples.Length, conditioning.Length);
            long[] latentShape = [batch, LatentChannels, latentHeight, latentWidth];
            long[] timestepShape = _model.Inputs["timestep"].Dimensions.Length == 0 ? [] : [batch];
            buffers.Sample.WriteFloats(0, samples);
            for (int i = 0; i < (timestepShape.Length == 0 ? 1 : batch); i++)
            {
                buffers.Timestep.Write(i, timestep);
            }

            // Each row's conditioning is split across encoder_hidden_states and the family's inputs.
            for (int b = 0; b < batch; b++)
            {
                ReadOnlySpan<float> row = conditioning.Slice(b * perRow, perRow);
                buffers.Inputs[0].WriteFloats(b * hiddenPerRow, row[..hiddenPerRow]);
                int at = hiddenPerRow;
                for (int c = 0; c < _conditioning.Length; c++)
                {
                    buffers.Inputs[1 + c].WriteFloats(b * _conditioning[c].Width, row.Slice(at, _conditioning[c].Width));
                    at += _conditioning[c].Width;
                }

                for (int c = 0; c < _constants.Length; c++)
                {
                    buffers.Inputs[1 + _conditioning.Length + c].WriteFloats(b * _constants[c].Values.Length, _constants[c].Values);
                }
            }

            OrtValue[] inputs =
            [
                buffers.Sample.View(latentShape),
                buffers.Timestep.View(timestepShape),
                buffers.Inputs[0].View([batch, tokens, hiddenPerRow / tokens]),
                .. _conditioning.Select((c, i) => buffers.Inputs[1 + i].View([batch, c.Width])),
                .. _constants.Select((c, i) => buffers.Inputs[1 + _conditioning.Length + i].View([batch, c.Values.Length])),
            ];
            _model.Session.Run(_runOptions, _inputNames, inputs, OutputNames, [buffers.Output.View(latentShape)]);
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

    private static readonly string[] OutputNames = ["out_sample"];

    /// <summary>Buffers big enough for this call: the largest call so far sets their size, smaller ones share them.</summary>
    private Buffers Reserve(int batch, int sampleLength, int conditioningLength)
    {
        int hiddenLength = conditioningLength - (_conditioning.Sum(c => c.Width) * batch);
        if (_buffers is not null && _buffers.Rows >= batch && _buffers.Sample.Capacity >= sampleLength && _buffers.Inputs[0].Capacity >= hiddenLength)
        {
            return _buffers;
        }

        _buffers?.Dispose();
        _buffers = new Buffers(
            batch,
            new ModelTensor(_model.InputType("sample"), sampleLength),
            new ModelTensor(_model.InputType("timestep"), Math.Max(1, batch)),
            [
                new ModelTensor(_model.InputType("encoder_hidden_states"), hiddenLength),
                .. _conditioning.Select(c => new ModelTensor(_model.InputType(c.Name), c.Width * batch)),
                .. _constants.Select(c => new ModelTensor(_model.InputType(c.Name), c.Values.Length * batch)),
            ],
            new ModelTensor(_model.OutputType("out_sample"), sampleLength));
        return _buffers;
    }

    private sealed record Buffers(int Rows, ModelTensor Sample, ModelTensor Timestep, ModelTensor[] Inputs, ModelTensor Output) : IDisposable
    {
        public void Dispose()
        {
            Sample.Dispose();
            Timestep.Dispose();
            foreach (ModelTensor input in Inputs)
            {
                input.Dispose();
            }

            Output.Dispose();
        }
    }
}
