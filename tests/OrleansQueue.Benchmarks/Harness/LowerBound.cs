namespace OrleansQueue.Benchmarks.Harness;

/// <summary>
/// The least W3 latency any durable queue on Orleans and Azurite can have on this machine, from two floor rows
/// measured in the same run: an Orleans client call answered at once (<see cref="OrleansFloor.RoundTripSystemName"/>)
/// and one Azurite table write of a 256-byte row (<see cref="AzuriteFloor"/>). A durable confirm needs both, one after
/// the other: the message reaches the silo and the answer comes back (a round trip), and between the two the message
/// is written. The bound's distribution is that of the sum of the two with the measured samples independent: every
/// round trip paired with every write, exactly (no sampling), as if the write started the moment the call arrived and
/// the answer left the moment it ended, with no waiting and no other work on the machine. Real latencies can only be
/// higher, so a p99 target below the bound's p99 cannot be met on this stack in that run.
/// </summary>
public static class LowerBound
{
    public const string SystemName = "Lower bound: Orleans call, no storage + Azurite write";
    public const string ModelSystemName = "Model: the same, with one write in flight";

    /// <summary>
    /// The bound row, then the row of <see cref="SingleWriterModel"/> on the same samples (messages every
    /// 1 / <paramref name="perSecond"/> s); none when either row has no samples.
    /// </summary>
    public static IReadOnlyList<BenchResult> Rows(BenchResult? roundTrip, BenchResult? write, int perSecond)
    {
        if (roundTrip is not { LatencyTicks: { Length: > 0 } r } || write is not { LatencyTicks: { Length: > 0 } w })
        {
            return [];
        }

        var first = r.Order().ToArray();
        var second = w.Order().ToArray();
        double Ms(long ticks) => ticks * 1000.0 / System.Diagnostics.Stopwatch.Frequency;
        var bound = new BenchResult
        {
            System = SystemName,
            Workload = roundTrip.Workload,
            Messages = first.Length,
            Confirmed = first.Length,
            Delivered = first.Length,
            P50Ms = Ms(SumQuantile.Of(first, second, 0.50)),
            P99Ms = Ms(SumQuantile.Of(first, second, 0.99)),
            P999Ms = Ms(SumQuantile.Of(first, second, 0.999)),
            Note = $"every one of the {first.Length:N0} round trips above added to every one of the {second.Length:N0} Azurite writes, with no wait " +
                "between: no durable confirm on Orleans and Azurite is faster here",
        };
        var modelled = Recorder.Percentiles(SingleWriterModel.Latencies(r, w, System.Diagnostics.Stopwatch.Frequency / perSecond));
        var model = bound with
        {
            System = ModelSystemName,
            P50Ms = modelled?.P50,
            P99Ms = modelled?.P99,
            P999Ms = modelled?.P999,
            Note = "the same samples in the order measured, a message sent every 1 ms, one write at a time taking every message that arrived " +
                "before it started (as an OrleansQueue queue writes): what waiting for the write in flight costs, with nothing else running",
        };
        return [bound, model];
    }
}
