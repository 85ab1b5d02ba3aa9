namespace OrleansQueue.Benchmarks.Harness;

/// <summary>
/// A queue that keeps one storage write in flight, replayed on measured samples (for the W3 model row): message i is
/// sent at i × interval and reaches the queue half a round trip later (round trip sample i); a write starts when the
/// writer is idle and messages are waiting, takes every message that has arrived, and lasts the next write sample (in
/// the order measured, so slow stretches of the storage stay together); each message is confirmed half its round trip
/// after its write ends. What waiting for the write in flight costs on that storage, with nothing else running.
/// </summary>
public static class SingleWriterModel
{
    /// <summary>Each message's send-to-confirm time, in the samples' unit; one per round-trip sample.</summary>
    public static long[] Latencies(long[] roundTrips, long[] writes, long interval)
    {
        ArgumentOutOfRangeException.ThrowIfZero(writes.Length);
        var count = roundTrips.Length;
        var arrivals = new (long At, int Index)[count];
        for (var i = 0; i < count; i++)
        {
            arrivals[i] = (i * interval + roundTrips[i] / 2, i);
        }

        Array.Sort(arrivals);
        var latencies = new long[count];
        var writerFree = long.MinValue;
        var next = 0; // the first arrival not yet written
        var write = 0;
        while (next < count)
        {
            var start = Math.Max(writerFree, arrivals[next].At);
            var end = start + writes[write++ % writes.Length];
            for (; next < count && arrivals[next].At <= start; next++)
            {
                var i = arrivals[next].Index;
                latencies[i] = end + (roundTrips[i] - roundTrips[i] / 2) - i * interval;
            }

            writerFree = end;
        }

        return latencies;
    }
}
