using System.Buffers.Binary;
using System.Text;
using System.Text.RegularExpressions;

namespace HierDiff.Core.Embeddings;

/// <summary>
/// NumPy's .npy format for 2-D float32/float64 matrices in C order
/// (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html). Anything else is refused by name.
/// </summary>
public static partial class NpyFormat
{
    private static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    public static EmbeddingMatrix Read(ReadOnlySpan<byte> bytes, string source)
    {
        if (bytes.Length < 10 || !bytes[..6].SequenceEqual(Magic))
        {
            throw new HierDiffInputException($"{source}: not a NumPy .npy file (the magic string \\x93NUMPY is missing)");
        }

        byte major = bytes[6];
        int headerLength;
        int headerStart;
        if (major == 1)
        {
            headerLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes[8..]);
            headerStart = 10;
        }
        else if (major is 2 or 3)
        {
            headerLength = (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes[8..]);
            headerStart = 12;
        }
        else
        {
            throw new HierDiffInputException($"{source}: unsupported .npy format version {major}");
        }

        if (headerStart + headerLength > bytes.Length)
        {
            throw new HierDiffInputException($"{source}: the .npy header is truncated");
        }

        string header = Encoding.Latin1.GetString(bytes.Slice(headerStart, headerLength));
        string descr = HeaderField(DescrPattern(), header, "descr", source);
        string fortran = HeaderField(FortranPattern(), header, "fortran_order", source);
        string shape = HeaderField(ShapePattern(), header, "shape", source);

        if (fortran != "False")
        {
            throw new HierDiffInputException($"{source}: the matrix is in Fortran order; save it in C order (np.ascontiguousarray)");
        }

        (bool littleEndian, int size) = descr switch
        {
            "<f8" => (true, 8),
            ">f8" => (false, 8),
            "<f4" => (true, 4),
            ">f4" => (false, 4),
            _ => throw new HierDiffInputException(
                $"{source}: unsupported element type '{descr}'; embeddings must be float32 or float64"),
        };

        string[] dims = shape.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (dims.Length != 2)
        {
            throw new HierDiffInputException($"{source}: the array has shape ({shape}); expected a 2-D matrix (prompts x dimensions)");
        }

        long rows = long.Parse(dims[0], System.Globalization.CultureInfo.InvariantCulture);
        long columns = long.Parse(dims[1], System.Globalization.CultureInfo.InvariantCulture);
        long count = rows * columns;
        ReadOnlySpan<byte> payload = bytes[(headerStart + headerLength)..];
        if (count > int.MaxValue || payload.Length != count * size)
        {
            throw new HierDiffInputException(
                $"{source}: shape ({rows}, {columns}) needs {count * size} bytes of data, the file has {payload.Length}");
        }

        var data = new double[count];
        for (int i = 0; i < data.Length; i++)
        {
            ReadOnlySpan<byte> b = payload.Slice(i * size, size);
            data[i] = (size, littleEndian) switch
            {
                (8, true) => BinaryPrimitives.ReadDoubleLittleEndian(b),
                (8, false) => BinaryPrimitives.ReadDoubleBigEndian(b),
                (_, true) => BinaryPrimitives.ReadSingleLittleEndian(b),
                _ => BinaryPrimitives.ReadSingleBigEndian(b),
            };
        }

        return new EmbeddingMatrix((int)rows, (int)columns, data, source);
    }

    /// <summary>Writes a float64 matrix as .npy version 1.0.</summary>
    public static byte[] Write(int rows, int columns, ReadOnlySpan<double> data)
    {
        string header = $"{{'descr': '<f8', 'fortran_order': False, 'shape': ({rows}, {columns}), }}";
        int unpadded = 10 + header.Length + 1;
        header = header.PadRight(header.Length + ((64 - (unpadded % 64)) % 64)) + "\n";
        var bytes = new byte[10 + header.Length + (data.Length * 8)];
        Magic.CopyTo(bytes, 0);
        bytes[6] = 1;
        bytes[7] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(8), (ushort)header.Length);
        Encoding.Latin1.GetBytes(header, bytes.AsSpan(10));
        for (int i = 0; i < data.Length; i++)
        {
            BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(10 + header.Length + (i * 8)), data[i]);
        }

        return bytes;
    }

    private static string HeaderField(Regex pattern, string header, string name, string source)
    {
        Match m = pattern.Match(header);
        return m.Success ? m.Groups[1].Value : throw new HierDiffInputException($"{source}: the .npy header has no '{name}'");
    }

    [GeneratedRegex(@"'descr'\s*:\s*'([^']*)'")]
    private static partial Regex DescrPattern();

    [GeneratedRegex(@"'fortran_order'\s*:\s*(\w+)")]
    private static partial Regex FortranPattern();

    [GeneratedRegex(@"'shape'\s*:\s*\(([^)]*)\)")]
    private static partial Regex ShapePattern();
}
