using System.Diagnostics;

namespace HierDiff.Pipeline.Orchestration;

/// <summary>A time in which one worker process ran at least one GPU activity of a run.</summary>
public sealed record BusyInterval(string Worker, DateTimeOffset Start, DateTimeOffset End);

/// <summary>
/// What a per-second GPU bill counts: each worker process is billed while it runs, however many activities it runs
/// at once, so a run's GPU seconds are the union of each worker's busy intervals, summed over workers. (Summing
/// the activities' own wall times counts overlapping activities twice.)
/// </summary>
public static class WorkerTime
{
    /// <summary>This process, as no other process on any machine names itself.</summary>
    public static string ThisWorker { get; } =
        $"{Environment.MachineName}/{Environment.ProcessId}/{Process.GetCurrentProcess().StartTime.ToUniversalTime().Ticks}";

    /// <summary>The same time as <paramref name="intervals"/>, with each worker's overlapping intervals merged (in
    /// worker and time order, so the result does not depend on the order of the input).</summary>
    public static IReadOnlyList<BusyInterval> Union(IEnumerable<BusyInterval> intervals)
    {
        var merged = new List<BusyInterval>();
        foreach (IGrouping<string, BusyInterval> worker in intervals.GroupBy(i => i.Worker).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            BusyInterval? current = null;
            foreach (BusyInterval next in worker.OrderBy(i => i.Start).ThenBy(i => i.End))
            {
                if (current is not null && next.Start <= current.End)
                {
                    current = current with { End = next.End > current.End ? next.End : current.End };
                    continue;
                }

                if (current is not null)
                {
                    merged.Add(current);
                }

                current = next;
            }

            if (current is not null)
            {
                merged.Add(current);
            }
        }

        return merged;
    }

    /// <summary>The seconds in <paramref name="intervals"/>, each instant of each worker counted once.</summary>
    public static double Seconds(IEnumerable<BusyInterval> intervals) => Union(intervals).Sum(i => (i.End - i.Start).TotalSeconds);
}
