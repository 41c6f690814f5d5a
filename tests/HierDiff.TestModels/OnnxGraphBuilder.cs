using System.Buffers.Binary;
using Google.Protobuf;
using Onnx;

namespace HierDiff.TestModels;

/// <summary>One dimension of a graph input or output: a fixed size or a symbolic name.</summary>
internal readonly record struct Dim(long Value, string? Param)
{
    public static implicit operator Dim(int value) => new(value, null);

    public static implicit operator Dim(string param) => new(0, param);
}

/// <summary>Builds an ONNX graph (opset 17, IR version 8) node by node.</summary>
internal sealed class OnnxGraphBuilder
{
    public const long IrVersion = 8;
    public const long Opset = 17;

    private readonly GraphProto graph;
    private int nodeCount;

    public OnnxGraphBuilder(string name)
    {
        graph = new GraphProto { Name = name };
    }

    public static TensorProto.Types.DataType FloatType(bool float16) =>
        float16 ? TensorProto.Types.DataType.Float16 : TensorProto.Types.DataType.Float;

    public void Input(string name, TensorProto.Types.DataType type, params Dim[] dims) =>
        graph.Input.Add(ValueInfo(name, type, dims));

    public void Output(string name, TensorProto.Types.DataType type, params Dim[] dims) =>
        graph.Output.Add(ValueInfo(name, type, dims));

    /// <summary>A float graph input (float16 when <paramref name="float16"/>); returns the float32 tensor to compute with.</summary>
    public string FloatInput(string name, bool float16, params Dim[] dims)
    {
        Input(name, FloatType(float16), dims);
        return float16 ? Cast(name, TensorProto.Types.DataType.Float) : name;
    }

    /// <summary>Makes the float32 tensor <paramref name="value"/> the graph output <paramref name="name"/> (float16 when asked).</summary>
    public void FloatOutput(string name, string value, bool float16, params Dim[] dims)
    {
        Node(float16 ? "Cast" : "Identity", [value], name, float16 ? [IntAttribute("to", (long)TensorProto.Types.DataType.Float16)] : []);
        Output(name, FloatType(float16), dims);
    }

    public string Cast(string input, TensorProto.Types.DataType to) =>
        Node("Cast", [input], null, IntAttribute("to", (long)to));

    /// <summary>Adds a node with one output; returns the output's name (generated when <paramref name="output"/> is null).</summary>
    public string Node(string opType, IReadOnlyList<string> inputs, string? output = null, params AttributeProto[] attributes)
    {
        var index = nodeCount++;
        output ??= $"{opType.ToLowerInvariant()}_{index}";
        var node = new NodeProto { OpType = opType, Name = $"{opType}_{index}" };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        node.Attribute.AddRange(attributes);
        graph.Node.Add(node);
        return output;
    }

    /// <summary>A float32 initializer of uniform random values in [-scale, scale].</summary>
    public string RandomWeights(string name, Random random, double scale, params long[] dims)
    {
        var count = dims.Aggregate(1L, (a, b) => a * b);
        var values = new float[count];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = (float)((random.NextDouble() * 2 - 1) * scale);
        }

        return Floats(name, values, dims);
    }

    public string Floats(string name, float[] values, params long[] dims)
    {
        var bytes = new byte[values.Length * sizeof(float)];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * sizeof(float)), values[i]);
        }

        return Initializer(name, TensorProto.Types.DataType.Float, bytes, dims);
    }

    public string Int64s(string name, long[] values, params long[] dims)
    {
        var bytes = new byte[values.Length * sizeof(long)];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(i * sizeof(long)), values[i]);
        }

        return Initializer(name, TensorProto.Types.DataType.Int64, bytes, dims);
    }

    public ModelProto Build()
    {
        var model = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = "HierDiff.TestModels",
            ProducerVersion = "1",
            Graph = graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        return model;
    }

    public static AttributeProto IntAttribute(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto IntsAttribute(string name, params long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.AddRange(values);
        return attribute;
    }

    public static AttributeProto StringAttribute(string name, string value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    private string Initializer(string name, TensorProto.Types.DataType type, byte[] bytes, long[] dims)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)type, RawData = ByteString.CopyFrom(bytes) };
        tensor.Dims.AddRange(dims);
        graph.Initializer.Add(tensor);
        return name;
    }

    private static ValueInfoProto ValueInfo(string name, TensorProto.Types.DataType type, Dim[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var dim in dims)
        {
            shape.Dim.Add(dim.Param is null
                ? new TensorShapeProto.Types.Dimension { DimValue = dim.Value }
                : new TensorShapeProto.Types.Dimension { DimParam = dim.Param });
        }

        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }
}
