using HierDiff.Core;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace HierDiff.Models.Onnx;

/// <summary>What a model's input or output must be: a name, the element types and ranks accepted.</summary>
internal sealed record Port(string Name, TensorElementType[] Types, int[] Ranks)
{
    public static readonly TensorElementType[] Floats = [TensorElementType.Float, TensorElementType.Float16];
    public static readonly TensorElementType[] Integers = [TensorElementType.Int32, TensorElementType.Int64];

    public override string ToString() =>
        $"{Name} ({string.Join("|", Types.Select(TypeName))}, rank {string.Join(" or ", Ranks)})";

    public static string TypeName(TensorElementType type) => type switch
    {
        TensorElementType.Float => "float32",
        TensorElementType.Float16 => "float16",
        TensorElementType.Int32 => "int32",
        TensorElementType.Int64 => "int64",
        _ => type.ToString().ToLowerInvariant(),
    };
}

/// <summary>
/// One ONNX session, opened once and checked against the inputs and outputs the pipeline relies on. Names, element
/// types and ranks are read from the session's metadata, so exports that differ in those details all load.
/// </summary>
internal sealed class OnnxModel : IDisposable
{
    private OnnxModel(string path, InferenceSession session)
    {
        Path = path;
        Session = session;
    }

    public string Path { get; }

    public InferenceSession Session { get; }

    public IReadOnlyDictionary<string, NodeMetadata> Inputs => Session.InputMetadata;

    public IReadOnlyDictionary<string, NodeMetadata> Outputs => Session.OutputMetadata;

    /// <summary>Opens <paramref name="path"/>, whose inputs must be exactly <paramref name="inputs"/> plus any of
    /// <paramref name="optionalInputs"/>, and whose outputs must include <paramref name="outputs"/>.</summary>
    public static OnnxModel Open(string path, OnnxDevice device, Port[] inputs, Port[] outputs, Port[]? optionalInputs = null)
    {
        InferenceSession session;
        using (SessionOptions options = device.CreateSessionOptions())
        {
            try
            {
                session = new InferenceSession(path, options);
            }
            catch (OnnxRuntimeException e)
            {
                throw new HierDiffInputException($"{path}: ONNX Runtime cannot load the model: {e.Message.Split('\n')[0].Trim()}");
            }
        }

        try
        {
            Port[] present = [.. inputs, .. (optionalInputs ?? []).Where(p => session.InputMetadata.ContainsKey(p.Name))];
            Check(path, "inputs", present, session.InputMetadata, exact: true);
            Check(path, "outputs", outputs, session.OutputMetadata, exact: false);
        }
        catch
        {
            session.Dispose();
            throw;
        }

        return new OnnxModel(path, session);
    }

    public TensorElementType InputType(string name) => Inputs[name].ElementDataType;

    public TensorElementType OutputType(string name) => Outputs[name].ElementDataType;

    /// <summary>A fixed dimension of an input, or null where the export left it symbolic.</summary>
    public int? FixedDimension(string input, int axis)
    {
        int[] dims = Inputs[input].Dimensions;
        return axis < dims.Length && dims[axis] > 0 ? dims[axis] : null;
    }

    /// <summary>Checks outputs a caller could name only after reading the session (SDXL's hidden_states.N).</summary>
    public void RequireOutputs(Port[] outputs) => Check(Path, "outputs", outputs, Outputs, exact: false);

    /// <summary>A fixed dimension of an output, or null where the export left it symbolic.</summary>
    public int? FixedOutputDimension(string output, int axis)
    {
        int[] dims = Outputs[output].Dimensions;
        return axis < dims.Length && dims[axis] > 0 ? dims[axis] : null;
    }

    public void Dispose() => Session.Dispose();

    private static void Check(string path, string what, Port[] expected, IReadOnlyDictionary<string, NodeMetadata> found, bool exact)
    {
        bool ok = expected.All(port => found.TryGetValue(port.Name, out NodeMetadata? meta)
            && meta.IsTensor && port.Types.Contains(meta.ElementDataType) && port.Ranks.Contains(meta.Dimensions.Length));
        if (ok && (!exact || found.Count == expected.Length))
        {
            return;
        }

        string foundText = string.Join(", ", found.Select(kv => $"{kv.Key} ({Describe(kv.Value)})"));
        throw new HierDiffInputException(
            $"{path}: expected {what} {string.Join(", ", expected.Select(p => p.ToString()))}; found {what} {foundText}");
    }

    private static string Describe(NodeMetadata meta)
    {
        if (!meta.IsTensor)
        {
            return meta.OnnxValueType.ToString();
        }

        IEnumerable<string> dims = meta.Dimensions.Select((d, i) =>
            d > 0 ? d.ToString(System.Globalization.CultureInfo.InvariantCulture) : (string.IsNullOrEmpty(meta.SymbolicDimensions[i]) ? "?" : meta.SymbolicDimensions[i]));
        return $"{Port.TypeName(meta.ElementDataType)} [{string.Join(", ", dims)}]";
    }
}
