using System.Text.Json.Serialization;

namespace HierDiff.Core.Sampling;

/// <summary>
/// How full the model's calls were: how many calls denoised each number of items (a guided item, two UNet rows,
/// counts once, as a denoiser call does). Small batches cost more per item than full ones, so this is where the
/// savings in calls and the savings in GPU seconds part. Sums across activities with <see cref="Add(BatchSizes)"/>.
/// </summary>
public sealed class BatchSizes
{
    private readonly SortedDictionary<int, long> _calls = [];

    public BatchSizes()
    {
    }

    [JsonConstructor]
    public BatchSizes(IReadOnlyDictionary<int, long> callsBySize)
    {
        foreach ((int size, long calls) in callsBySize)
        {
            Add(size, calls);
        }
    }

    /// <summary>Calls by the number of items they denoised, smallest first.</summary>
    public IReadOnlyDictionary<int, long> CallsBySize => _calls;

    [JsonIgnore]
    public long Calls => _calls.Values.Sum();

    [JsonIgnore]
    public long Items => _calls.Sum(c => c.Key * c.Value);

    /// <summary>Items per call (0 with no calls).</summary>
    [JsonIgnore]
    public double MeanBatch => Calls == 0 ? 0 : (double)Items / Calls;

    public void Add(int size, long calls = 1)
    {
        if (size < 1 || calls < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(size), $"{calls} calls of {size} items");
        }

        if (calls > 0)
        {
            _calls[size] = _calls.GetValueOrDefault(size) + calls;
        }
    }

    public void Add(BatchSizes other)
    {
        foreach ((int size, long calls) in other._calls)
        {
            Add(size, calls);
        }
    }

    public static BatchSizes Sum(IEnumerable<BatchSizes?> parts)
    {
        var sum = new BatchSizes();
        foreach (BatchSizes? part in parts)
        {
            if (part is not null)
            {
                sum.Add(part);
            }
        }

        return sum;
    }
}
