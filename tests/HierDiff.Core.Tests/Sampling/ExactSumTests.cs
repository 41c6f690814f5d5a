using System.Numerics;
using HierDiff.Core.Sampling;

namespace HierDiff.Core.Tests.Sampling;

public class ExactSumTests
{
    /// <summary>Vectors whose elements span every kind of float: large, tiny, subnormal, negative, zero.</summary>
    private static float[][] WideVectors(int count, int length, int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, length).Select(j => (j % 5) switch
        {
            0 => (float)(random.NextDouble() - 0.5) * 1e30f,
            1 => (float)(random.NextDouble() - 0.5) * 1e-30f,
            2 => BitConverter.Int32BitsToSingle(random.Next(1, 0x7FFFFF)) * (random.Next(2) == 0 ? 1 : -1),
            3 => 0f,
            _ => (float)(random.NextDouble() - 0.5) * 4,
        }).ToArray())];
    }

    private static float[] MeanOf(IEnumerable<float[]> vectors, int length)
    {
        var sum = new ExactSum(length);
        foreach (float[] v in vectors)
        {
            sum.Add(v);
        }

        return sum.Mean();
    }

    [Fact]
    public void TheMeanIsTheSameInAnyOrderAndAnyGrouping()
    {
        float[][] vectors = WideVectors(40, 25, seed: 3);
        float[] forward = MeanOf(vectors, 25);
        Assert.Equal(forward, MeanOf(vectors.Reverse(), 25));
        Assert.Equal(forward, MeanOf(vectors.OrderBy(v => v[4]), 25));

        // Two halves summed apart and then added, as two activities' subtrees are.
        var left = new ExactSum(25);
        var right = new ExactSum(25);
        for (int i = 0; i < vectors.Length; i++)
        {
            (i % 3 == 0 ? left : right).Add(vectors[i]);
        }

        right.Add(left);
        Assert.Equal(40, right.Count);
        Assert.Equal(forward, right.Mean());
    }

    [Fact]
    public void TheMeanIsTheExactMeanRoundedToWithinHalfAFloatStep()
    {
        float[][] vectors = WideVectors(30, 20, seed: 8);
        float[] mean = MeanOf(vectors, 20);
        for (int j = 0; j < 20; j++)
        {
            // The exact sum in units of 2^-149, as a big integer; the exact mean is that over 30.
            BigInteger exact = vectors.Aggregate(BigInteger.Zero, (s, v) => s + Units(v[j]));
            double reference = (double)exact / 30 * Math.Pow(2, -149);
            float nearest = (float)reference;
            float step = MathF.BitIncrement(MathF.Abs(nearest)) - MathF.Abs(nearest);
            Assert.True(Math.Abs(mean[j] - reference) <= step, $"element {j}: {mean[j]} against {reference}");
        }
    }

    private static BigInteger Units(float value)
    {
        // value * 2^149 is an integer for every finite float.
        uint bits = BitConverter.SingleToUInt32Bits(value);
        int exponent = (int)(bits >> 23) & 0xFF;
        BigInteger mantissa = exponent == 0 ? bits & 0x7FFFFF : (bits & 0x7FFFFF) | 0x800000;
        BigInteger units = mantissa << Math.Max(0, exponent - 1);
        return (bits >> 31) == 0 ? units : -units;
    }

    [Fact]
    public void OneVectorAndEqualVectorsComeBackBitForBit()
    {
        float[] v = WideVectors(1, 50, seed: 1)[0];
        Assert.Equal(v, MeanOf([v], 50));
        Assert.Equal(v, MeanOf(Enumerable.Repeat(v, 1000), 50));
    }

    [Fact]
    public void ASumStoredAndReadBackContinuesExactly()
    {
        float[][] vectors = WideVectors(10, 7, seed: 5);
        var stored = new ExactSum(7);
        foreach (float[] v in vectors[..6])
        {
            stored.Add(v);
        }

        var continued = new ExactSum(7);
        continued.Add(vectors[9]);
        continued.Read(stored.ToBytes());
        foreach (float[] v in vectors[6..])
        {
            continued.Add(v);
        }

        Assert.Equal(MeanOf(vectors, 7), continued.Mean());
        Assert.Throws<InvalidDataException>(() => new ExactSum(8).Read(stored.ToBytes()));
    }

    [Fact]
    public void ANonFiniteElementMakesTheMeanNaN()
    {
        var sum = new ExactSum(2);
        sum.Add([1f, 2f]);
        sum.Add([float.PositiveInfinity, 2f]);
        Assert.True(sum.NonFinite);
        Assert.All(sum.Mean(), m => Assert.True(float.IsNaN(m)));
    }

    [Fact]
    public void VectorsOfAnotherLengthAndTheMeanOfNothingAreRefused()
    {
        var sum = new ExactSum(3);
        Assert.Throws<ArgumentException>(() => sum.Add([1f, 2f]));
        Assert.Throws<InvalidOperationException>(() => sum.Mean());
    }
}
