namespace HierDiff.Core.Schedulers;

/// <summary>
/// What one worker hands to another: the current latent and the scheduler state after the steps run so far.
/// The receiver makes a scheduler from the same name, config and step count and continues stepping.
/// </summary>
public sealed class Trajectory
{
    private const string Magic = "HDTJ";
    private const ushort Version = 1;
    private const string What = "trajectory";

    public Trajectory(float[] latent, SchedulerState state)
    {
        ArgumentNullException.ThrowIfNull(latent);
        ArgumentNullException.ThrowIfNull(state);
        Latent = latent;
        State = state;
    }

    /// <summary>The sample after <see cref="SchedulerState.StepIndex"/> steps.</summary>
    public float[] Latent { get; }

    public SchedulerState State { get; }

    /// <summary>Versioned little-endian bytes; the latent is stored bit-exactly.</summary>
    public byte[] ToBytes()
    {
        var writer = new BinaryCodec.Writer(Magic, Version);
        writer.WriteFloats(Latent);
        writer.WriteBytes(State.ToBytes());
        return writer.Finish();
    }

    /// <summary>Reads bytes written by <see cref="ToBytes"/>.</summary>
    /// <exception cref="InvalidDataException">The bytes are truncated, damaged, or not a trajectory.</exception>
    public static Trajectory FromBytes(ReadOnlySpan<byte> bytes)
    {
        var reader = new BinaryCodec.Reader(BinaryCodec.OpenFrame(bytes, Magic, Version, What), What);
        float[] latent = reader.ReadFloats("the latent");
        var state = SchedulerState.FromBytes(reader.ReadBytes("the scheduler state"));
        reader.EnsureEnd();
        return new Trajectory(latent, state);
    }
}
