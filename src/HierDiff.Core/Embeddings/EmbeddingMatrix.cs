namespace HierDiff.Core.Embeddings;

/// <summary>
/// One embedding vector per prompt, row-major, in double precision (the tree is built in double, as scipy does).
/// Every row is finite with a non-zero norm: cosine distance is undefined otherwise.
/// </summary>
public sealed class EmbeddingMatrix
{
    private readonly double[] _data;

    /// <param name="source">Where the rows came from, for error messages.</param>
    public EmbeddingMatrix(int rows, int columns, double[] data, string source = "embeddings")
    {
        if (rows < 1 || columns < 1)
        {
            throw new HierDiffInputException($"{source}: the embedding matrix is empty ({rows} x {columns})");
        }

        if (data.Length != (long)rows * columns)
        {
            throw new ArgumentException($"expected {rows} x {columns} values, got {data.Length}", nameof(data));
        }

        Rows = rows;
        Columns = columns;
        _data = data;
        Validate(source);
    }

    public int Rows { get; }

    public int Columns { get; }

    public ReadOnlySpan<double> Row(int index) => _data.AsSpan(index * Columns, Columns);

    /// <summary>All values, row after row.</summary>
    public ReadOnlySpan<double> Values => _data;

    /// <summary>The backing array itself, for kernels that hand it to worker threads (spans cannot cross them).</summary>
    internal double[] RawValues => _data;

    /// <summary>The plain mean of the given rows (each counts once). It is computed as the first row plus the mean
    /// offset from it, so that identical rows (duplicate prompts) average to themselves exactly.</summary>
    public double[] MeanOf(IReadOnlyList<int> rows)
    {
        ReadOnlySpan<double> first = Row(rows[0]);
        var offset = new double[Columns];
        foreach (int r in rows)
        {
            ReadOnlySpan<double> row = Row(r);
            for (int c = 0; c < offset.Length; c++)
            {
                offset[c] += row[c] - first[c];
            }
        }

        for (int c = 0; c < offset.Length; c++)
        {
            offset[c] = first[c] + (offset[c] / rows.Count);
        }

        return offset;
    }

    private void Validate(string source)
    {
        for (int r = 0; r < Rows; r++)
        {
            ReadOnlySpan<double> row = Row(r);
            double squares = 0;
            for (int c = 0; c < row.Length; c++)
            {
                if (!double.IsFinite(row[c]))
                {
                    string what = double.IsNaN(row[c]) ? "NaN" : "an infinite value";
                    throw new HierDiffInputException($"{source}: row {r} has {what} in column {c}");
                }

                squares += row[c] * row[c];
            }

            if (squares == 0)
            {
                throw new HierDiffInputException($"{source}: row {r} is all zeros; cosine distance needs a non-zero vector");
            }
        }
    }
}
