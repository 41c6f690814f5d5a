namespace HierDiff.Core.Schedulers;

/// <summary>
/// Everything a scheduler carries from one step to the next, so that a trajectory stopped after any step can be
/// serialised, moved to another worker, and continued there bit-identically by a new scheduler instance made from
/// the same name, config and step count.
/// </summary>
public sealed class SchedulerState
{
    private const string Magic = "HDSS";
    private const ushort Version = 1;
    private const string What = "scheduler state";

    private readonly List<float[]> history;

    internal SchedulerState(string schedulerName, string fingerprint)
        : this(schedulerName, fingerprint, 0, 0, [])
    {
    }

    private SchedulerState(string schedulerName, string fingerprint, int stepIndex, int lowerOrderNums, List<float[]> history)
    {
        SchedulerName = schedulerName;
        Fingerprint = fingerprint;
        StepIndex = stepIndex;
        LowerOrderNums = lowerOrderNums;
        this.history = history;
    }

    /// <summary>The name of the scheduler that made the state (ddim, dpm++2m, ...).</summary>
    public string SchedulerName { get; }

    /// <summary>The scheduler name, every config value and the step count; a scheduler steps only its own states.</summary>
    public string Fingerprint { get; }

    /// <summary>The index of the next step (0 before the first step; the step count when finished).</summary>
    public int StepIndex { get; internal set; }

    /// <summary>DPM-Solver: how many earlier steps its multistep formula may use (diffusers lower_order_nums).</summary>
    public int LowerOrderNums { get; internal set; }

    /// <summary>DPM-Solver: the converted model output of the previous step. Empty for the other schedulers.
    /// The arrays belong to the state; do not change them.</summary>
    public IReadOnlyList<float[]> History => history;

    internal List<float[]> MutableHistory => history;

    /// <summary>A deep copy.</summary>
    public SchedulerState Clone() =>
        new(SchedulerName, Fingerprint, StepIndex, LowerOrderNums, history.Select(h => (float[])h.Clone()).ToList());

    /// <summary>Versioned little-endian bytes; floats are stored bit-exactly.</summary>
    public byte[] ToBytes()
    {
        var writer = new BinaryCodec.Writer(Magic, Version);
        writer.WriteString(SchedulerName);
        writer.WriteString(Fingerprint);
        writer.WriteInt32(StepIndex);
        writer.WriteInt32(LowerOrderNums);
        writer.WriteInt32(history.Count);
        foreach (var entry in history)
        {
            writer.WriteFloats(entry);
        }

        return writer.Finish();
    }

    /// <summary>Reads bytes written by <see cref="ToBytes"/>.</summary>
    /// <exception cref="InvalidDataException">The bytes are truncated, damaged, or not a scheduler state.</exception>
    public static SchedulerState FromBytes(ReadOnlySpan<byte> bytes)
    {
        var reader = new BinaryCodec.Reader(BinaryCodec.OpenFrame(bytes, Magic, Version, What), What);
        string name = reader.ReadString("the scheduler name");
        string fingerprint = reader.ReadString("the fingerprint");
        int stepIndex = reader.ReadCount("the step index");
        int lowerOrderNums = reader.ReadCount("the lower-order count");
        int count = reader.ReadCount("the history count");
        var history = new List<float[]>();
        for (int i = 0; i < count; i++)
        {
            history.Add(reader.ReadFloats($"history entry {i}"));
        }

        reader.EnsureEnd();
        return new SchedulerState(name, fingerprint, stepIndex, lowerOrderNums, history);
    }
}
