using System.Diagnostics;

namespace OrleansQueue.Benchmarks.Harness;

/// <summary>The schedule of a paced workload: item i is due <c>i / perSecond</c> seconds after the start.</summary>
public static class Pacing
{
    /// <summary>Waits until item <paramref name="index"/> is due on <paramref name="watch"/>; returns at once if it is late.</summary>
    public static Task WaitForTurnAsync(Stopwatch watch, int index, double perSecond)
    {
        var due = TimeSpan.FromSeconds(index / perSecond);
        var wait = due - watch.Elapsed;
        return wait > TimeSpan.Zero ? Task.Delay(wait) : Task.CompletedTask;
    }

    /// <summary>
    /// A W3 floor: <paramref name="write"/> 1,000 times unrecorded (warm-up), then <c>perSecond × seconds</c> times
    /// paced at <paramref name="perSecond"/>, one at a time, each timed; the row of those times.
    /// </summary>
    public static async Task<BenchResult> FloorRowAsync(string system, string durability, int perSecond, double seconds, Func<Task> write, string note)
    {
        for (var i = 0; i < 1000; i++)
        {
            await write();
        }

        var count = (int)(perSecond * seconds);
        var ticks = new long[count];
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < count; i++)
        {
            await WaitForTurnAsync(watch, i, perSecond);
            var start = Stopwatch.GetTimestamp();
            await write();
            ticks[i] = Stopwatch.GetTimestamp() - start;
        }

        return BenchResult.Paced(system, perSecond, ticks, watch.Elapsed, note) with { Durability = durability };
    }
}
