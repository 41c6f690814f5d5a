using System.Buffers.Binary;
using System.Text;
using HierDiff.Core.Embeddings;

namespace HierDiff.Core.Tests.Embeddings;

public class EmbeddingFileTests
{
    private static byte[] Npy(string descr, string shape, byte[] payload, bool fortran = false)
    {
        string header = $"{{'descr': '{descr}', 'fortran_order': {(fortran ? "True" : "False")}, 'shape': {shape}, }}";
        header = header.PadRight(118) + "\n";
        byte[] bytes = new byte[10 + header.Length + payload.Length];
        bytes[0] = 0x93;
        Encoding.ASCII.GetBytes("NUMPY").CopyTo(bytes, 1);
        bytes[6] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(8), (ushort)header.Length);
        Encoding.ASCII.GetBytes(header).CopyTo(bytes, 10);
        payload.CopyTo(bytes, 10 + header.Length);
        return bytes;
    }

    private static byte[] Floats(params float[] values)
    {
        var bytes = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
        }

        return bytes;
    }

    [Fact]
    public void Float64NpyRoundTrips()
    {
        double[] values = [1, 2, 3, -4, 5.5, 6];
        EmbeddingMatrix m = NpyFormat.Read(NpyFormat.Write(2, 3, values), "m.npy");
        Assert.Equal((2, 3), (m.Rows, m.Columns));
        Assert.Equal(values, m.Values.ToArray());
    }

    [Fact]
    public void Float32NpyIsWidenedExactly()
    {
        EmbeddingMatrix m = NpyFormat.Read(Npy("<f4", "(2, 2)", Floats(0.1f, 2, 3, 4)), "m.npy");
        Assert.Equal((double)0.1f, m.Row(0)[0]);
    }

    [Fact]
    public void TheReferenceMatricesLoad()
    {
        EmbeddingMatrix m = EmbeddingFile.Read(TestPaths.Data("ward", "extra-float32-40x768.npy"));
        Assert.Equal((40, 768), (m.Rows, m.Columns));
    }

    [Theory]
    [InlineData("<i8", "(2, 2)", false, "unsupported element type '<i8'; embeddings must be float32 or float64")]
    [InlineData("<f4", "(4,)", false, "the array has shape (4,); expected a 2-D matrix")]
    [InlineData("<f4", "(1, 2, 2)", false, "the array has shape (1, 2, 2)")]
    [InlineData("<f4", "(2, 2)", true, "the matrix is in Fortran order")]
    [InlineData("<f4", "(3, 2)", false, "shape (3, 2) needs 24 bytes of data, the file has 16")]
    public void UnsupportedNpyFilesAreRefusedByName(string descr, string shape, bool fortran, string expected)
    {
        var e = Assert.Throws<HierDiffInputException>(() => NpyFormat.Read(Npy(descr, shape, Floats(1, 2, 3, 4), fortran), "m.npy"));
        Assert.StartsWith("m.npy: " + expected, e.Message);
    }

    [Fact]
    public void NotAnNpyFileIsRefused() =>
        Assert.Contains("not a NumPy .npy file", Assert.Throws<HierDiffInputException>(() => NpyFormat.Read("hello world"u8, "m.npy")).Message);

    [Theory]
    [InlineData(float.NaN, "m.npy: row 1 has NaN in column 0")]
    [InlineData(float.PositiveInfinity, "m.npy: row 1 has an infinite value in column 0")]
    public void NonFiniteRowsAreRefusedByRow(float bad, string expected)
    {
        var e = Assert.Throws<HierDiffInputException>(() => NpyFormat.Read(Npy("<f4", "(2, 2)", Floats(1, 2, bad, 4)), "m.npy"));
        Assert.Equal(expected, e.Message);
    }

    [Fact]
    public void ZeroRowsAreRefusedByRow()
    {
        var e = Assert.Throws<HierDiffInputException>(() => NpyFormat.Read(Npy("<f4", "(3, 2)", Floats(1, 2, 3, 4, 0, 0)), "m.npy"));
        Assert.Equal("m.npy: row 2 is all zeros; cosine distance needs a non-zero vector", e.Message);
    }

    [Fact]
    public void JsonMatricesLoadAsArraysOrUnderEmbeddings()
    {
        Assert.Equal(2, EmbeddingFile.ParseJson("[[1, 2], [3, 4.5]]"u8, "e.json").Rows);
        Assert.Equal(4.5, EmbeddingFile.ParseJson("{\"embeddings\": [[1, 2], [3, 4.5]]}"u8, "e.json").Row(1)[1]);
    }

    [Theory]
    [InlineData("[[1, 2], [3]]", "e.json: row 1 has 1 values; row 0 has 2")]
    [InlineData("[[1, 2], [3, \"x\"]]", "e.json: row 1, column 1 is not a number")]
    [InlineData("[]", "e.json: expected a non-empty array of embedding rows")]
    [InlineData("[[0, 0], [1, 1]]", "e.json: row 0 is all zeros; cosine distance needs a non-zero vector")]
    [InlineData("[[1, 2],", "e.json:1: invalid JSON")]
    public void BadJsonMatricesAreRefused(string json, string expected) =>
        Assert.Equal(expected, Assert.Throws<HierDiffInputException>(() => EmbeddingFile.ParseJson(Encoding.UTF8.GetBytes(json), "e.json")).Message);

    [Fact]
    public void AFolderIsNamedAsAFolder()
    {
        string folder = Directory.CreateTempSubdirectory("hierdiff-embeddings-").FullName;
        try
        {
            Assert.Equal($"{folder}: is a folder, not an embeddings file", Assert.Throws<HierDiffInputException>(() => EmbeddingFile.Read(folder)).Message);
        }
        finally
        {
            Directory.Delete(folder);
        }
    }
}
