using static HierDiff.Core.Tests.Schedulers.SchedulerTestKit;

namespace HierDiff.Core.Tests.Schedulers;

/// <summary>State and trajectory bytes round-trip exactly, and anything else is refused with a clear error.</summary>
public class StateSerializationTests
{
    [Fact]
    public void StateRoundTripsEveryFieldBitExactly()
    {
        var scheduler = SchedulerFactory.Create(SchedulerFactory.DpmSolverMultistep, Sd15, 10);
        var state = StateAfter(scheduler, 3, out _);
        state.MutableArrays[0][0] = -0.0f;
        state.MutableArrays[0][1] = BitConverter.Int32BitsToSingle(0x7fc12345); // a NaN with a payload
        state.MutableArrays[0][2] = float.Epsilon;

        var copy = SchedulerState.FromBytes(state.ToBytes());
        Assert.Equal(state.SchedulerName, copy.SchedulerName);
        Assert.Equal(state.Fingerprint, copy.Fingerprint);
        Assert.Equal(3, copy.StepIndex);
        Assert.Equal(2, DpmSolverMultistepScheduler.LowerOrderNums(copy));
        Assert.Single(copy.Arrays);
        Assert.Equal(Bits(state.Arrays[0]), Bits(copy.Arrays[0]));
        Assert.Equal(state.ToBytes(), copy.ToBytes());
    }

    [Fact]
    public void TrajectoryRoundTripsLatentAndState()
    {
        var scheduler = SchedulerFactory.Create(SchedulerFactory.EulerAncestral, Sd15, 8);
        var state = StateAfter(scheduler, 5, out float[] latent);
        var copy = Trajectory.FromBytes(new Trajectory(latent, state).ToBytes());
        Assert.Equal(Bits(latent), Bits(copy.Latent));
        Assert.Equal(5, copy.State.StepIndex);
        Assert.Equal(state.Fingerprint, copy.State.Fingerprint);
    }

    [Fact]
    public void CloneIsIndependent()
    {
        var scheduler = SchedulerFactory.Create(SchedulerFactory.DpmSolverMultistep, Sd15, 10);
        var state = StateAfter(scheduler, 2, out _);
        var clone = state.Clone();
        float before = state.Arrays[0][0];
        clone.MutableArrays[0][0] = before + 1;
        clone.StepIndex = 7;
        Assert.Equal(before, state.Arrays[0][0]);
        Assert.Equal(2, state.StepIndex);
    }

    [Fact]
    public void EveryTruncationIsRefused()
    {
        var scheduler = SchedulerFactory.Create(SchedulerFactory.DpmSolverMultistep, Sd15, 10);
        var state = StateAfter(scheduler, 4, out float[] latent);
        byte[] stateBytes = state.ToBytes();
        byte[] trajectoryBytes = new Trajectory(latent, state).ToBytes();
        for (int length = 0; length < stateBytes.Length; length++)
        {
            var error = Assert.Throws<InvalidDataException>(() => SchedulerState.FromBytes(stateBytes.AsSpan(0, length)));
            Assert.Contains("scheduler state", error.Message);
        }

        for (int length = 0; length < trajectoryBytes.Length; length++)
        {
            var error = Assert.Throws<InvalidDataException>(() => Trajectory.FromBytes(trajectoryBytes.AsSpan(0, length)));
            Assert.Contains("trajectory", error.Message);
        }
    }

    [Fact]
    public void EveryFlippedByteIsRefused()
    {
        var scheduler = SchedulerFactory.Create(SchedulerFactory.Ddim, Sd15, 10);
        var state = StateAfter(scheduler, 4, out float[] latent);
        byte[] bytes = new Trajectory(latent, state).ToBytes();
        for (int i = 0; i < bytes.Length; i++)
        {
            byte[] damaged = (byte[])bytes.Clone();
            damaged[i] ^= 0x10;
            Assert.Throws<InvalidDataException>(() => Trajectory.FromBytes(damaged));
        }
    }

    [Fact]
    public void ExtraBytesAndForeignBytesAreRefused()
    {
        var scheduler = SchedulerFactory.Create(SchedulerFactory.Ddim, Sd15, 10);
        var state = StateAfter(scheduler, 1, out float[] latent);
        byte[] trajectory = new Trajectory(latent, state).ToBytes();

        var wrongKind = Assert.Throws<InvalidDataException>(() => SchedulerState.FromBytes(trajectory));
        Assert.Equal("These bytes are not a scheduler state: the header is not 'HDSS'.", wrongKind.Message);

        byte[] longer = [.. trajectory, 0];
        Assert.Throws<InvalidDataException>(() => Trajectory.FromBytes(longer));

        byte[] future = (byte[])trajectory.Clone();
        future[4] = 2;
        var version = Assert.Throws<InvalidDataException>(() => Trajectory.FromBytes(future));
        Assert.Equal("trajectory format version 2 is not supported; this build reads version 1.", version.Message);
    }

    [Theory]
    [InlineData("ddim", 12, "ddim", 10)]
    [InlineData("euler", 10, "ddim", 10)]
    [InlineData("dpm++2m", 10, "euler", 10)]
    public void StateOfAnotherSchedulerOrStepCountIsRefused(string madeBy, int madeSteps, string usedBy, int usedSteps)
    {
        var maker = SchedulerFactory.Create(madeBy, Sd15, madeSteps);
        var state = StateAfter(maker, 1, out float[] latent);
        var user = SchedulerFactory.Create(usedBy, Sd15, usedSteps);
        var error = Assert.Throws<InvalidOperationException>(() => user.Step(state, new float[latent.Length], latent, default));
        Assert.Contains("resume with the same scheduler, config and number of steps", error.Message);
        Assert.Equal(1, state.StepIndex);
    }

    [Fact]
    public void StateOfAnotherConfigIsRefused()
    {
        var maker = SchedulerFactory.Create(SchedulerFactory.Ddim, Sd15, 10);
        var state = SchedulerState.FromBytes(StateAfter(maker, 2, out float[] latent).ToBytes());
        var user = SchedulerFactory.Create(SchedulerFactory.Ddim, Sd15 with { BetaEnd = 0.013 }, 10);
        Assert.Throws<InvalidOperationException>(() => user.Step(state, new float[latent.Length], latent, default));
    }

    [Fact]
    public void FinishedStateIsRefused()
    {
        var scheduler = SchedulerFactory.Create(SchedulerFactory.Euler, Sd15, 3);
        var state = StateAfter(scheduler, 3, out float[] latent);
        var error = Assert.Throws<InvalidOperationException>(() => scheduler.Step(state, new float[latent.Length], latent, default));
        Assert.Equal("The trajectory is finished: all 3 steps of euler have run.", error.Message);
    }

    [Fact]
    public void LengthMismatchIsArgumentError()
    {
        var scheduler = SchedulerFactory.Create(SchedulerFactory.DpmSolverMultistep, Sd15, 10);
        var state = StateAfter(scheduler, 2, out _);
        Assert.Throws<ArgumentException>(() => scheduler.Step(state, new float[5], new float[6], default));

        // The history was made for a 64-value latent.
        Assert.Throws<ArgumentException>(() => scheduler.Step(state, new float[5], new float[5], default));
        Assert.Throws<ArgumentException>(() => scheduler.ScaleModelInput(new float[5], new float[6], 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => scheduler.ScaleModelInput(new float[5], new float[5], 10));
        Assert.Equal(2, state.StepIndex);
    }

    [Fact]
    public void InconsistentHistoryIsRefused()
    {
        var scheduler = SchedulerFactory.Create(SchedulerFactory.DpmSolverMultistep, Sd15, 10);
        var state = StateAfter(scheduler, 2, out float[] latent);
        state.MutableArrays.Clear();
        Assert.Throws<InvalidOperationException>(() => scheduler.Step(state, new float[latent.Length], latent, default));

        var ddim = SchedulerFactory.Create(SchedulerFactory.Ddim, Sd15, 10);
        var ddimState = ddim.CreateState();
        ddimState.MutableArrays.Add(new float[latent.Length]);
        Assert.Throws<InvalidOperationException>(() => ddim.Step(ddimState, new float[latent.Length], latent, default));
    }
}
