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

        return Scatter(random, centres, groups, rows, dimensions, "synthetic");
    }

    /// <summary>
    /// Embeddings of a set with topics: 100 topics, each with groups of about 25 near neighbours around directions
    /// near the topic's (a group's centre is its topic's plus 0.6 x noise, a row its group's plus 0.3 x noise), as
    /// large prompt sets are made (subjects, then variants of each).
    /// </summary>
    public static EmbeddingMatrix Topics(int rows, int dimensions, int seed)
    {
        var random = new Random(seed);
        const int topics = 100;
        int groups = Math.Max(topics, rows / 25);
        var topicCentres = new double[topics * dimensions];
        for (int i = 0; i < topicCentres.Length; i++)
        {
            topicCentres[i] = Gaussian(random);
        }

        var centres = new double[groups * dimensions];
        for (int g = 0; g < groups; g++)
        {
            int t = g % topics;
            for (int c = 0; c < dimensions; c++)
            {
                centres[(g * dimensions) + c] = topicCentres[(t * dimensions) + c] + (0.6 * Gaussian(random));
            }
        }

        return Scatter(random, centres, groups, rows, dimensions, "synthetic with topics");
    }

    /// <summary>Each row a random group's centre plus 0.3 x noise.</summary>
    private static EmbeddingMatrix Scatter(Random random, double[] centres, int groups, int rows, int dimensions, string source)
    {
        var data = new double[rows * dimensions];
        for (int r = 0; r < rows; r++)
        {
            int g = random.Next(groups);
            for (int c = 0; c < dimensions; c++)
            {
                data[(r * dimensions) + c] = centres[(g * dimensions) + c] + (0.3 * Gaussian(random));
            }
        }

        return new EmbeddingMatrix(rows, dimensions, data, source);
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
