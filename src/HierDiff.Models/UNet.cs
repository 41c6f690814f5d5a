using HierDiff.Core;
using HierDiff.Models.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace HierDiff.Models;

/// <summary>A UNet input beside encoder_hidden_states: its name and its width per batch row.</summary>
public sealed record UNetInput(string Name, int Width);

/// <summary>
/// The denoiser (<c>unet/model.onnx</c>): sample, timestep, encoder_hidden_states → out_sample, plus the inputs a
/// family adds (SDXL: text_embeds and time_ids). A row's conditioning is laid out flat as encoder_hidden_states
/// then each of <c>conditioning</c>'s inputs; <c>constants</c> are the same for every row. A family without a token
/// sequence (Kandinsky 2.2: image_embeds only) opens it with <c>tokenSequence: false</c>, and one whose UNet also
/// predicts a learned variance with <c>learnedVariance: true</c> (out_sample then has twice the latent channels).
/// The timestep may be int64 [B] (older exports), float32 [B] or a float scalar (newer optimum), float16 in fp16
/// exports: it is written in whatever type and rank the export declares. Input and output tensors are allocated
/// once per batch size.
/// </summary>
public sealed class UNet : IDisposable
{
    private const string TokenSequenceInput = "encoder_hidden_states";

    private static readonly Port[] Outputs = [new("out_sample", Port.Floats, [4])];

    private readonly OnnxModel _model;
    private readonly bool _tokenSequence;
    private readonly UNetInput[] _conditioning;
    private readonly (string Name, float[] Values)[] _constants;
    private readonly string[] _inputNames;

    // Values per row of the family's inputs beside encoder_hidden_states.
    private readonly int _extraWidth;

    // Where the family's inputs start in Buffers.Inputs: after encoder_hidden_states, where there is one.
    private readonly int _firstExtra;
    private Buffers? _buffers;
    private readonly RunOptions _runOptions = new();
    private readonly object _gate = new();

    internal UNet(string path, OnnxDevice device)
        : this(path, device, [], [])
    {
    }

    internal UNet(
        string path, OnnxDevice device, IReadOnlyList<UNetInput> conditioning, IReadOnlyList<(string Name, float[] Values)> constants,
        bool tokenSequence = true, bool learnedVariance = false)
    {
        Port[] common =
        [
            new("sample", Port.Floats, [4]),
            new("timestep", [.. Port.Floats, .. Port.Integers], [0, 1]),
            .. tokenSequence ? [new Port(TokenSequenceInput, Port.Floats, [3])] : Array.Empty<Port>(),
        ];
        Port[] extra = [.. conditioning.Select(c => c.Name).Concat(constants.Select(c => c.Name)).Select(name => new Port(name, Port.Floats, [2]))];
        _model = OnnxModel.Open(path, device, [.. common, .. extra], Outputs);
        _tokenSequence = tokenSequence;
        _firstExtra = tokenSequence ? 1 : 0;
        _conditioning = [.. conditioning];
        _constants = [.. constants];
        _extraWidth = _conditioning.Sum(c => c.Width);
        _inputNames = [.. common.Select(p => p.Name), .. extra.Select(p => p.Name)];
        LatentChannels = _model.FixedDimension("sample", 1) ?? 4;
        OutputChannels = learnedVariance ? 2 * LatentChannels : LatentChannels;
        if (_model.FixedOutputDimension("out_sample", 1) is int found && found != OutputChannels)
        {
            _model.Dispose();
            throw new HierDiffInputException(learnedVariance
                ? $"{path}: out_sample has {found} channels; expected {OutputChannels} (the predicted noise and the learned variance, {LatentChannels} each)"
                : $"{path}: out_sample has {found} channels; expected {OutputChannels}, as sample has");
        }
    }

    /// <summary>A fixed dimension of an input (a family checks its encoders' widths against it), or null.</summary>
    internal int? FixedDimension(string input, int axis) => _model.FixedDimension(input, axis);

    internal string Path => _model.Path;

    public int LatentChannels { get; }

    /// <summary>Channels of out_sample: the latent's, or twice them where the UNet also predicts a variance.</summary>
    public int OutputChannels { get; }

    /// <summary>Latent height and width: fixed in the export, else from unet/config.json, else 64 (512 px).</summary>
    internal (int Height, int Width) LatentSize(int? configured)
    {
        int? h = _model.FixedDimension("sample", 2);
        int? w = _model.FixedDimension("sample", 3);
        return (h ?? configured ?? 64, w ?? configured ?? 64);
    }

    /// <summary>Whether the export takes a timestep per batch row (timestep [B]); a scalar timestep is one per call.</summary>
    public bool TimestepPerItem => _model.Inputs["timestep"].Dimensions.Length == 1;

    /// <summary>
    /// One call for <paramref name="batch"/> rows, with each row's timestep (all equal where the export takes one
    /// per call, <see cref="TimestepPerItem"/>): samples are batch x latent length, outputs batch x
    /// (<see cref="OutputChannels"/> x height x width), conditioning batch x the row layout above. Returns the seconds
    /// the model itself took (not counting any wait for another caller's run to finish).
    /// </summary>
    public double Run(int batch, ReadOnlySpan<float> samples, ReadOnlySpan<double> timesteps, ReadOnlySpan<float> conditioning, Span<float> output, int latentHeight, int latentWidth)
    {
        if (timesteps.Length != batch || (!TimestepPerItem && timesteps.IndexOfAnyExcept(timesteps[0]) >= 0))
        {
            throw new ArgumentException($"{_model.Path}: {timesteps.Length} timesteps for {batch} rows; this export takes {(TimestepPerItem ? "one per row" : "one per call")}", nameof(timesteps));
        }

        int tokens = _tokenSequence ? _model.FixedDimension(TokenSequenceInput, 1) ?? 77 : 1;
        int perRow = conditioning.Length / batch;
        int hiddenPerRow = perRow - _extraWidth;
        if (_tokenSequence ? hiddenPerRow <= 0 || hiddenPerRow % tokens != 0 : hiddenPerRow != 0)
        {
            throw new HierDiffInputException(_tokenSequence
                ? $"{_model.Path}: encoder_hidden_states of {hiddenPerRow} values per item do not split into {tokens} tokens"
                : $"{_model.Path}: a conditioning row of {perRow} values; expected {perRow - hiddenPerRow} ({string.Join(", ", _conditioning.Select(c => $"{c.Name} {c.Width}"))})");
        }

        lock (_gate)
        {
            long started = System.Diagnostics.Stopwatch.GetTimestamp();
            Buffers buffers = Reserve(batch, samples.Length, conditioning.Length);
            long[] latentShape = [batch, LatentChannels, latentHeight, latentWidth];
            long[] outputShape = [batch, OutputChannels, latentHeight, latentWidth];
            long[] timestepShape = _model.Inputs["timestep"].Dimensions.Length == 0 ? [] : [batch];
            buffers.Sample.WriteFloats(0, samples);
            for (int i = 0; i < (timestepShape.Length == 0 ? 1 : batch); i++)
            {
                buffers.Timestep.Write(i, timesteps[i]);
            }

            // Each row's conditioning is split across encoder_hidden_states (where there is one) and the family's inputs.
            for (int b = 0; b < batch; b++)
            {
                ReadOnlySpan<float> row = conditioning.Slice(b * perRow, perRow);
                if (_tokenSequence)
                {
                    buffers.Inputs[0].WriteFloats(b * hiddenPerRow, row[..hiddenPerRow]);
                }

                int at = hiddenPerRow;
                for (int c = 0; c < _conditioning.Length; c++)
                {
                    buffers.Inputs[_firstExtra + c].WriteFloats(b * _conditioning[c].Width, row.Slice(at, _conditioning[c].Width));
                    at += _conditioning[c].Width;
                }
            }

            // In _inputNames' order: sample, timestep, encoder_hidden_states (where there is one), the family's inputs.
            var inputs = new OrtValue[_inputNames.Length];
            inputs[0] = buffers.Sample.View(latentShape);
            inputs[1] = buffers.Timestep.View(timestepShape);
            if (_tokenSequence)
            {
                inputs[2] = buffers.Inputs[0].View([batch, tokens, hiddenPerRow / tokens]);
            }

            for (int c = 0; c < _conditioning.Length + _constants.Length; c++)
            {
                int width = c < _conditioning.Length ? _conditioning[c].Width : _constants[c - _conditioning.Length].Values.Length;
                inputs[2 + _firstExtra + c] = buffers.Inputs[_firstExtra + c].View([batch, width]);
            }
            _model.Session.Run(_runOptions, _inputNames, inputs, OutputNames, [buffers.Output.View(outputShape)]);
            buffers.Output.ReadFloats(0, output[..(int)(outputShape[0] * outputShape[1] * latentHeight * latentWidth)]);
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
        int hiddenLength = conditioningLength - (_extraWidth * batch);
        if (_buffers is not null && _buffers.Rows >= batch && _buffers.Sample.Capacity >= sampleLength
            && (!_tokenSequence || _buffers.Inputs[0].Capacity >= hiddenLength))
        {
            return _buffers;
        }

        _buffers?.Dispose();
        _buffers = new Buffers(
            batch,
            new ModelTensor(_model.InputType("sample"), sampleLength),
            new ModelTensor(_model.InputType("timestep"), Math.Max(1, batch)),
            [
                .. _tokenSequence ? [new ModelTensor(_model.InputType(TokenSequenceInput), hiddenLength)] : Array.Empty<ModelTensor>(),
                .. _conditioning.Select(c => new ModelTensor(_model.InputType(c.Name), c.Width * batch)),
                .. _constants.Select(c => new ModelTensor(_model.InputType(c.Name), c.Values.Length * batch)),
            ],
            new ModelTensor(_model.OutputType("out_sample"), sampleLength / LatentChannels * OutputChannels));

        // The constants (SDXL's time_ids) are the same for every row and every call: written once per buffer.
        for (int c = 0; c < _constants.Length; c++)
        {
            for (int b = 0; b < batch; b++)
            {
                _buffers.Inputs[_firstExtra + _conditioning.Length + c].WriteFloats(b * _constants[c].Values.Length, _constants[c].Values);
            }
        }

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
