namespace HierDiff.Core.Schedulers;

/// <summary>
/// Everything a scheduler carries from one step to the next, so that a trajectory stopped after any step can be
/// serialised, moved to another worker, and continued there bit-identically by a new scheduler instance made from
/// the same name, config and step count.
/// </summary>
/// <remarks>
/// Besides the step index, a state has neutral slots: latent-sized float arrays and scalars. What each slot means
/// is the business of the scheduler that made the state (DPM-Solver keeps its previous x0 prediction in array 0
/// and lower_order_nums in scalar 0); the fingerprint ties a state to that scheduler.
/// </remarks>
public sealed class SchedulerState
{
    /// <summary>The format <see cref="ToBytes"/> writes. Version 1 (before the slots: a lower-order count and a
    /// history list) is still read, so trajectories written by the previous build resume after an upgrade.</summary>
    public const ushort FormatVersion = 2;

    private const ushort SlotlessVersion = 1;
    private const string Magic = "HDSS";
    private const string What = "scheduler state";

    private readonly List<float[]> arrays;
    private readonly List<double> scalars;

    internal SchedulerState(string schedulerName, string fingerprint)
        : this(schedulerName, fingerprint, 0, [], [])
    {
    }

    private SchedulerState(string schedulerName, string fingerprint, int stepIndex, List<float[]> arrays, List<double> scalars)
    {
        SchedulerName = schedulerName;
        Fingerprint = fingerprint;
        StepIndex = stepIndex;
        this.arrays = arrays;
        this.scalars = scalars;
    }

    /// <summary>The name of the scheduler that made the state (ddim, dpm++2m, ...).</summary>
    public string SchedulerName { get; }

    /// <summary>The scheduler name, every config value and the step count; a scheduler steps only its own states.</summary>
    public string Fingerprint { get; }

    /// <summary>The index of the next step (0 before the first step; the step count when finished).</summary>
    public int StepIndex { get; internal set; }

    /// <summary>Float arrays the scheduler keeps between steps; empty for single-step methods.
    /// The arrays belong to the state; do not change them.</summary>
    public IReadOnlyList<float[]> Arrays => arrays;

    /// <summary>Numbers the scheduler keeps between steps (a double holds every int and float exactly).</summary>
    public IReadOnlyList<double> Scalars => scalars;

    internal List<float[]> MutableArrays => arrays;

    internal List<double> MutableScalars => scalars;

    /// <summary>A deep copy.</summary>
    public SchedulerState Clone() =>
        new(SchedulerName, Fingerprint, StepIndex, arrays.Select(a => (float[])a.Clone()).ToList(), [.. scalars]);

    /// <summary>Little-endian bytes of format <see cref="FormatVersion"/>; numbers are stored bit-exactly.</summary>
    public byte[] ToBytes()
    {
        var writer = new BinaryCodec.Writer(Magic, FormatVersion);
        writer.WriteString(SchedulerName);
        writer.WriteString(Fingerprint);
        writer.WriteInt32(StepIndex);
        writer.WriteInt32(scalars.Count);
        foreach (double scalar in scalars)
        {
            writer.WriteDouble(scalar);
        }

        writer.WriteInt32(arrays.Count);
        foreach (var array in arrays)
        {
            writer.WriteFloats(array);
        }

        return writer.Finish();
    }

    /// <summary>Reads bytes written by <see cref="ToBytes"/> (of this build or the previous format).</summary>
    /// <exception cref="HierDiffInputException">The bytes are of a format version this build does not read
    /// (written by a newer build, most likely).</exception>
    /// <exception cref="InvalidDataException">The bytes are truncated, damaged, or not a scheduler state.</exception>
    public static SchedulerState FromBytes(ReadOnlySpan<byte> bytes)
    {
        // The version is checked before the checksum: a newer format may frame its bytes differently.
        ushort version = BinaryCodec.ReadVersion(bytes, Magic, What);
        if (version is not (FormatVersion or SlotlessVersion))
        {
            throw new HierDiffInputException(
                $"{What} format version {version} is not supported; this build reads versions {SlotlessVersion} and "
                + $"{FormatVersion}. Resume the run with the build that wrote it, or start it again.");
        }

        var reader = new BinaryCodec.Reader(BinaryCodec.CheckedBody(bytes, What), What);
        string name = reader.ReadString("the scheduler name");
        string fingerprint = reader.ReadString("the fingerprint");
        int stepIndex = reader.ReadCount("the step index");
        var arrays = new List<float[]>();
        var scalars = new List<double>();
        if (version == SlotlessVersion)
        {
            // Version 1 had DPM-Solver's fields by name; DPM-Solver now keeps them in scalar 0 and array 0, and
            // had neither before its first step (lower-order count 0, no history), as every other scheduler.
            int lowerOrderNums = reader.ReadCount("the lower-order count");
            if (lowerOrderNums != 0)
            {
                scalars.Add(lowerOrderNums);
            }

            ReadArrays(ref reader, arrays);
        }
        else
        {
            int scalarCount = reader.ReadCount("the scalar count");
            for (int i = 0; i < scalarCount; i++)
            {
                scalars.Add(reader.ReadDouble($"scalar {i}"));
            }

            ReadArrays(ref reader, arrays);
        }

        reader.EnsureEnd();
        return new SchedulerState(name, fingerprint, stepIndex, arrays, scalars);
    }

    private static void ReadArrays(ref BinaryCodec.Reader reader, List<float[]> arrays)
    {
        int count = reader.ReadCount("the array count");
        for (int i = 0; i < count; i++)
        {
            arrays.Add(reader.ReadFloats($"array {i}"));
        }
    }
}
