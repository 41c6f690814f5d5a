namespace HierDiff.Benchmarks;

/// <summary>Embeddings shaped like a prompt set's: groups of near neighbours around shared directions.</summary>
public static class SyntheticEmbeddings
{
    public static EmbeddingMatrix Clustered(int rows, int dimensions, int seed)
    {
        var random = new Random(seed);
        int groups = Math.Max(1, rows / 25);
        var centres = new double[groups * dimensions];
        for (int i = 0; i < centres.Length; i++)
        {
            centres[i] = Gaussian(random);
        }

        var data = new double[rows * dimensions];
        for (int r = 0; r < rows; r++)
        {
            int g = random.Next(groups);
            for (int c = 0; c < dimensions; c++)
            {
                data[(r * dimensions) + c] = centres[(g * dimensions) + c] + (0.3 * Gaussian(random));
            }
        }

        return new EmbeddingMatrix(rows, dimensions, data, "synthetic");
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
