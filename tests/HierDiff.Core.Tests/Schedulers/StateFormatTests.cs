using System.Buffers.Binary;
using static HierDiff.Core.Tests.Schedulers.SchedulerTestKit;

namespace HierDiff.Core.Tests.Schedulers;

/// <summary>State bytes carry their format version: this build writes version 2, still reads the previous
/// build's version 1, and refuses any other as an input error.</summary>
public class StateFormatTests
{
    [Fact]
    public void StateBytesCarryTheFormatVersion()
    {
        byte[] bytes = SchedulerFactory.Create(SchedulerFactory.Ddim, Sd15, 10).CreateState().ToBytes();
        Assert.Equal("HDSS"u8.ToArray(), bytes[..4]);
        Assert.Equal(SchedulerState.FormatVersion, BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(4)));
        Assert.Equal(2, SchedulerState.FormatVersion);
    }

    [Fact]
    public void EverySlotRoundTripsBitExactly()
    {
        var state = SchedulerFactory.Create(SchedulerFactory.Ddim, Sd15, 10).CreateState();
        state.StepIndex = 4;
        state.MutableScalars.AddRange([-0.0, BitConverter.Int64BitsToDouble(0x7ff8_0000_dead_beef), double.Epsilon, 2]);
        state.MutableArrays.AddRange([[1.5f, -0.0f], [], [BitConverter.Int32BitsToSingle(0x7fc12345)]]);

        var copy = SchedulerState.FromBytes(state.ToBytes());
        Assert.Equal(4, copy.StepIndex);
        Assert.Equal(state.Scalars.Select(BitConverter.DoubleToInt64Bits), copy.Scalars.Select(BitConverter.DoubleToInt64Bits));
        Assert.Equal(state.Arrays.Select(a => Bits(a)), copy.Arrays.Select(a => Bits(a)));
        Assert.Equal(state.ToBytes(), copy.ToBytes());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(65535)]
    public void UnknownStateVersionIsRefusedAsAnInputError(ushort version)
    {
        var scheduler = SchedulerFactory.Create(SchedulerFactory.DpmSolverMultistep, Sd15, 10);
        byte[] bytes = WithVersion(StateAfter(scheduler, 2, out _).ToBytes(), version);

        var error = Assert.Throws<HierDiffInputException>(() => SchedulerState.FromBytes(bytes));
        Assert.Equal(
            $"scheduler state format version {version} is not supported; this build reads versions 1 and 2. "
            + "Resume the run with the build that wrote it, or start it again.", error.Message);
    }

    [Fact]
    public void TrajectoryWhoseStateHasAnUnknownVersionIsRefusedAsAnInputError()
    {
        var scheduler = SchedulerFactory.Create(SchedulerFactory.Ddim, Sd15, 10);
        var state = StateAfter(scheduler, 2, out float[] latent);
        var writer = new BinaryCodec.Writer("HDTJ", 1);
        writer.WriteFloats(latent);
        writer.WriteBytes(WithVersion(state.ToBytes(), 3));

        var error = Assert.Throws<HierDiffInputException>(() => Trajectory.FromBytes(writer.Finish()));
        Assert.StartsWith("scheduler state format version 3 is not supported", error.Message);
    }

    [Fact]
    public void PreviousBuildsVersion1TrajectoriesResumeBitForBit()
    {
        string[] lines = File.ReadAllLines(TestPaths.Data("schedulers", "v1_trajectories.txt"));
        var cases = lines.Where(l => !l.StartsWith('#')).Select(l => l.Split(' ')).ToArray();
        Assert.Equal(3, cases.Length);
        foreach (string[] fields in cases)
        {
            (string name, int steps, int ran) = (fields[0], int.Parse(fields[1]), int.Parse(fields[2]));
            byte[] bytes = Convert.FromBase64String(fields[3]);
            Assert.Equal(1, BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(4)));

            var trajectory = Trajectory.FromBytes(bytes);
            Assert.Equal(ran, trajectory.State.StepIndex);
            var scheduler = SchedulerFactory.Create(name, Sd15, steps);
            float[] latent = trajectory.Latent;
            Run(scheduler, trajectory.State, latent, new NoiseStream(3, 1), Condition(1), steps - ran);

            float[] expected = new float[latent.Length];
            Convert.FromBase64String(fields[4]).CopyTo(System.Runtime.InteropServices.MemoryMarshal.AsBytes(expected.AsSpan()));
            Assert.Equal(Bits(expected), Bits(latent));
        }
    }

    /// <summary>The bytes with another version and a matching checksum, so that only the version is wrong.</summary>
    private static byte[] WithVersion(byte[] bytes, ushort version)
    {
        byte[] copy = (byte[])bytes.Clone();
        BinaryPrimitives.WriteUInt16LittleEndian(copy.AsSpan(4), version);
        BinaryPrimitives.WriteUInt64LittleEndian(copy.AsSpan(copy.Length - 8), BinaryCodec.Fnv1a(copy.AsSpan(0, copy.Length - 8)));
        return copy;
    }
}
