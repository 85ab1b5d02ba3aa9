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
}
