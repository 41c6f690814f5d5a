namespace HierDiff.Core.Noise;

/// <summary>
/// Deterministic standard-normal noise from a counter-based generator (Philox4x32-10).
/// Every value is a pure function of (Seed, Stream, draw, element index), so noise never depends on
/// thread timing, batch composition, call order or the length of the span being filled.
/// </summary>
/// <remarks>
/// <para><see cref="Stream"/> is the index of the prompt whose noise a trajectory uses. A cluster of prompts
/// that shares early steps uses the noise of one designated member prompt, so with no sharing each prompt's
/// trajectory is exactly the trajectory that standard (unshared) generation of that prompt produces.</para>
/// <para>Draws: <see cref="InitialLatentDraw"/> is the initial latent; the noise a scheduler needs at step
/// index i is draw <see cref="StepDraw"/>(i).</para>
/// <para>The Philox key is the seed's two 32-bit halves; the counter is (element block low, element block high,
/// Stream, draw). Each 128-bit block gives four normals by Box-Muller in double.</para>
/// </remarks>
public readonly record struct NoiseStream(ulong Seed, int Stream)
{
    /// <summary>The draw that fills the initial latent.</summary>
    public const int InitialLatentDraw = 0;

    /// <summary>The draw a scheduler uses for the noise of step index <paramref name="stepIndex"/>.</summary>
    public static int StepDraw(int stepIndex) => stepIndex + 1;

    /// <summary>Fills <paramref name="destination"/> with standard-normal values of draw <paramref name="draw"/>.
    /// Element j is the same whatever the length of the span.</summary>
    public void Fill(Span<float> destination, int draw)
    {
        uint k0 = (uint)Seed;
        uint k1 = (uint)(Seed >> 32);
        int blocks = (destination.Length + 3) / 4;
        for (int b = 0; b < blocks; b++)
        {
            var (x0, x1, x2, x3) = Philox4x32(((uint)b, 0u, (uint)Stream, (uint)draw), (k0, k1));
            var (z0, z1) = BoxMuller(x0, x1);
            var (z2, z3) = BoxMuller(x2, x3);
            int j = b * 4;
            int n = Math.Min(4, destination.Length - j);
            destination[j] = (float)z0;
            if (n > 1)
            {
                destination[j + 1] = (float)z1;
            }

            if (n > 2)
            {
                destination[j + 2] = (float)z2;
            }

            if (n > 3)
            {
                destination[j + 3] = (float)z3;
            }
        }
    }

    private static (double, double) BoxMuller(uint a, uint b)
    {
        // Uniforms in (0, 1]: (x + 1) / 2^32, so the logarithm never sees 0.
        const double Scale = 1.0 / 4294967296.0;
        double u1 = (a + 1.0) * Scale;
        double u2 = (b + 1.0) * Scale;
        double r = Math.Sqrt(-2.0 * Math.Log(u1));
        var (sin, cos) = Math.SinCos(2.0 * Math.PI * u2);
        return (r * cos, r * sin);
    }

    /// <summary>Philox4x32 with 10 rounds (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11),
    /// the same function as Random123's philox4x32_10.</summary>
    internal static (uint, uint, uint, uint) Philox4x32((uint, uint, uint, uint) counter, (uint, uint) key)
    {
        const uint M0 = 0xD2511F53;
        const uint M1 = 0xCD9E8D57;
        const uint W0 = 0x9E3779B9;
        const uint W1 = 0xBB67AE85;
        var (c0, c1, c2, c3) = counter;
        var (k0, k1) = key;
        for (int round = 0; round < 10; round++)
        {
            if (round > 0)
            {
                k0 += W0;
                k1 += W1;
            }

            ulong p0 = Math.BigMul(M0, c0);
            ulong p1 = Math.BigMul(M1, c2);
            uint hi0 = (uint)(p0 >> 32);
            uint lo0 = (uint)p0;
            uint hi1 = (uint)(p1 >> 32);
            uint lo1 = (uint)p1;
            (c0, c1, c2, c3) = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0);
        }

        return (c0, c1, c2, c3);
    }
}
