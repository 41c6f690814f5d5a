using System.Text.Json;

namespace HierDiff.Core.Embeddings;

/// <summary>Reads an embedding matrix from <c>.npy</c> or <c>.json</c> (an array of equal-length number arrays,
/// or an object whose <c>embeddings</c> field is one).</summary>
public static class EmbeddingFile
{
    public static EmbeddingMatrix Read(string path)
    {
        if (Directory.Exists(path))
        {
            throw new HierDiffInputException($"{path}: is a folder, not an embeddings file");
        }

        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new HierDiffInputException($"{path}: cannot read the embeddings file: {e.Message}", e);
        }

        return Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".npy" => NpyFormat.Read(bytes, path),
            ".json" => ParseJson(bytes, path),
            string other => throw new HierDiffInputException(
                $"{path}: unsupported embeddings file type '{other}'; use .npy (float32/float64, 2-D) or .json"),
        };
    }

    public static EmbeddingMatrix ParseJson(ReadOnlySpan<byte> bytes, string source)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(bytes.ToArray());
        }
        catch (JsonException e)
        {
            throw new HierDiffInputException($"{source}:{(e.LineNumber ?? 0) + 1}: invalid JSON");
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("embeddings", out JsonElement inner))
            {
                root = inner;
            }

            if (root.ValueKind != JsonValueKind.Array || root.GetArrayLength() == 0)
            {
                throw new HierDiffInputException($"{source}: expected a non-empty array of embedding rows");
            }

            int rows = root.GetArrayLength();
            int columns = -1;
            double[] data = [];
            int r = 0;
            foreach (JsonElement row in root.EnumerateArray())
            {
                if (row.ValueKind != JsonValueKind.Array)
                {
                    throw new HierDiffInputException($"{source}: row {r} is not an array of numbers");
                }

                if (columns < 0)
                {
                    columns = row.GetArrayLength();
                    data = new double[(long)rows * columns];
                }
                else if (row.GetArrayLength() != columns)
                {
                    throw new HierDiffInputException($"{source}: row {r} has {row.GetArrayLength()} values; row 0 has {columns}");
                }

                int c = 0;
                foreach (JsonElement value in row.EnumerateArray())
                {
                    if (value.ValueKind != JsonValueKind.Number)
                    {
                        throw new HierDiffInputException($"{source}: row {r}, column {c} is not a number");
                    }

                    data[(r * columns) + c] = value.GetDouble();
                    c++;
                }

                r++;
            }

            return new EmbeddingMatrix(rows, columns, data, source);
        }
    }
}
