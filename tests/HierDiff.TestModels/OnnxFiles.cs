using System.Globalization;
using Google.Protobuf;
using Onnx;

namespace HierDiff.TestModels;

/// <summary>Reads and writes ONNX model files, with or without external data.</summary>
internal static class OnnxFiles
{
    public static ModelProto Read(string path) => ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));

    public static void Write(ModelProto model, string path) => File.WriteAllBytes(path, model.ToByteArray());

    /// <summary>
    /// Writes the model to <paramref name="path"/> with the bytes of every float initializer (the weights) moved, one
    /// after another, to the file <paramref name="dataFileName"/> in the same folder: ONNX external data (data_location
    /// EXTERNAL with "location", "offset" and "length" entries), as <c>onnx.save_model(..., save_as_external_data=True)</c>
    /// writes it. The int64 initializers (shapes, axes) stay inline, as small tensors do in real exports: ONNX Runtime's
    /// shape inference reads a Reshape's shape from the model itself and refuses one stored outside it.
    /// </summary>
    public static void WriteWithExternalData(ModelProto model, string path, string dataFileName)
    {
        var external = model.Clone();
        var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        using (var data = File.Create(Path.Combine(folder, dataFileName)))
        {
            foreach (var tensor in external.Graph.Initializer.Where(t => t.DataType == (int)TensorProto.Types.DataType.Float))
            {
                var offset = data.Position;
                tensor.RawData.WriteTo(data);
                tensor.ExternalData.Add(Entry("location", dataFileName));
                tensor.ExternalData.Add(Entry("offset", offset.ToString(CultureInfo.InvariantCulture)));
                tensor.ExternalData.Add(Entry("length", tensor.RawData.Length.ToString(CultureInfo.InvariantCulture)));
                tensor.DataLocation = TensorProto.Types.DataLocation.External;
                tensor.RawData = ByteString.Empty;
            }
        }

        Write(external, path);
    }

    private static StringStringEntryProto Entry(string key, string value) => new() { Key = key, Value = value };
}
