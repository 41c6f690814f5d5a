namespace HierDiff.Pipeline.Tests;

/// <summary>GPU seconds as a per-second bill counts them: each worker's busy time once, however many activities overlap.</summary>
public class WorkerTimeTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);

    private static BusyInterval At(string worker, double from, double to) => new(worker, T0.AddSeconds(from), T0.AddSeconds(to));

    [Fact]
    public void OverlappingActivitiesInOneWorkerAreCountedOnce()
    {
        // Three activities of 10 s each, running side by side for most of it: 30 s summed, 12 s of the worker.
        BusyInterval[] activities = [At("w1", 0, 10), At("w1", 1, 11), At("w1", 2, 12)];
        Assert.Equal(12, WorkerTime.Seconds(activities), 9);
    }

    [Fact]
    public void WorkersAreSummedAndGapsAreNotBilled()
    {
        BusyInterval[] activities = [At("w2", 5, 8), At("w1", 0, 4), At("w1", 6, 7), At("w2", 0, 10)];
        Assert.Equal(4 + 1 + 10, WorkerTime.Seconds(activities), 9);
        Assert.Equal([At("w1", 0, 4), At("w1", 6, 7), At("w2", 0, 10)], WorkerTime.Union(activities));
    }

    [Fact]
    public void ReportsAddTheirBusyTimeAsAUnion()
    {
        var a = new ActivityReport(1, 10, 5, 0, [At("w1", 0, 10)]);
        var b = new ActivityReport(1, 10, 5, 0, [At("w1", 5, 15)]);
        ActivityReport sum = a + b;
        Assert.Equal(20, sum.WallSeconds);
        Assert.Equal(15, WorkerTime.Seconds(sum.Busy!), 9);
        Assert.Equal(sum.Busy, (b + a).Busy);
    }
}
