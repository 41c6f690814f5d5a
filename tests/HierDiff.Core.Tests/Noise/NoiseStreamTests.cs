namespace HierDiff.Core.Tests.Noise;

public class NoiseStreamTests
{
    [Theory]
    [InlineData(0u, 0u, 0u, 0u, 0u, 0u, 0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u)]
    [InlineData(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu)]
    [InlineData(0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u, 0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u)]
    public void PhiloxMatchesRandom123KnownAnswers(
        uint c0, uint c1, uint c2, uint c3, uint k0, uint k1, uint e0, uint e1, uint e2, uint e3)
    {
        var result = NoiseStream.Philox4x32((c0, c1, c2, c3), (k0, k1));
        Assert.Equal((e0, e1, e2, e3), result);
    }

    [Fact]
    public void SameInputsGiveSameBits()
    {
        float[] a = Fill(new NoiseStream(42, 3), 4, 1001);
        float[] b = Fill(new NoiseStream(42, 3), 4, 1001);
        Assert.Equal(Bits(a), Bits(b));
    }

    [Theory]
    [InlineData(43ul, 3, 4)]
    [InlineData(42ul, 4, 4)]
    [InlineData(42ul, 3, 5)]
    [InlineData(42ul | (1ul << 40), 3, 4)]
    public void DifferentSeedStreamOrDrawGivesDifferentNoise(ulong seed, int stream, int draw)
    {
        float[] reference = Fill(new NoiseStream(42, 3), 4, 256);
        float[] other = Fill(new NoiseStream(seed, stream), draw, 256);
        int equal = reference.Zip(other).Count(p => p.First == p.Second);
        Assert.True(equal < 3, $"{equal} of 256 values coincide");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(10)]
    [InlineData(997)]
    public void ShortSpanIsPrefixOfLongSpan(int length)
    {
        var noise = new NoiseStream(7, 1);
        float[] longer = Fill(noise, 2, 1000);
        float[] shorter = Fill(noise, 2, length);
        Assert.Equal(Bits(longer[..length]), Bits(shorter));
    }

    [Fact]
    public void ElementsWithinABlockAreNotRepeated()
    {
        float[] values = Fill(new NoiseStream(1, 0), 0, 64);
        Assert.Equal(values.Length, values.Distinct().Count());
    }

    [Fact]
    public void MillionSamplesAreStandardNormal()
    {
        float[] values = Fill(new NoiseStream(20240601, 0), 0, 1_000_000);
        double mean = values.Average(v => (double)v);
        double variance = values.Average(v => ((double)v - mean) * ((double)v - mean));
        double fourth = values.Average(v => Math.Pow(v - mean, 4)) / (variance * variance);

        // Standard error of the mean is 0.001 and of the variance about 0.0014.
        Assert.InRange(mean, -0.005, 0.005);
        Assert.InRange(variance, 0.993, 1.007);
        Assert.InRange(fourth, 2.95, 3.05);
        Assert.All(values, v => Assert.True(float.IsFinite(v)));
        double withinOneSigma = values.Count(v => Math.Abs(v) < 1) / (double)values.Length;
        Assert.InRange(withinOneSigma, 0.680, 0.685);
    }

    [Fact]
    public void StepDrawsAreDistinctFromTheInitialLatentDraw()
    {
        Assert.Equal(0, NoiseStream.InitialLatentDraw);
        Assert.Equal(1, NoiseStream.StepDraw(0));
        Assert.Equal(50, NoiseStream.StepDraw(49));
    }

    private static float[] Fill(NoiseStream noise, int draw, int length)
    {
        var values = new float[length];
        noise.Fill(values, draw);
        return values;
    }

    private static int[] Bits(float[] values) => values.Select(BitConverter.SingleToInt32Bits).ToArray();
}
