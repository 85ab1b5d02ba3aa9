namespace OrleansQueue.Benchmarks.Harness;

/// <summary>
/// What W3 latency a durable queue on Orleans and Azurite could have at best on this machine, computed from two rows
/// measured right after OrleansQueue's W3: an Orleans client call answered at once
/// (<see cref="OrleansFloor.RoundTripSystemName"/>) and one Azurite table write of a 256-byte row
/// (<see cref="AzuriteFloor"/>). A durable confirm needs both: the message reaches the silo and the answer comes back
/// (a round trip), and between the two the message is written. Three rows, none of them run:
/// <list type="bullet">
/// <item>the bound: the least each percentile of round trip + write can be however the two are paired
/// (<see cref="SumQuantile.LeastOverAnyPairing"/>), so whatever the correlation between slow calls and slow writes,
/// no confirm distribution with these parts is faster;</item>
/// <item>the estimate: the same sum with the two independent (every round trip added to every write, exactly);</item>
/// <item>the model: the samples in the order measured, replayed through a queue with one write in flight
/// (<see cref="SingleWriterModel"/>).</item>
/// </list>
/// The parts were measured with nothing else running, in their own 20 s windows, so the rows speak for that run.
/// </summary>
public static class LowerBound
{
    public const string SystemName = "Lower bound: Orleans call, no storage + Azurite write, any pairing";
    public const string EstimateSystemName = "Estimate: the same, independent";
    public const string ModelSystemName = "Model: the same, with one write in flight";

    /// <summary>The same three rows for PostgreSQL: an Orleans round trip plus one PostgreSQL commit (<see cref="PostgreSqlFloor"/>).</summary>
    public const string PostgreSqlSystemName = "Lower bound: Orleans call, no storage + PostgreSQL commit, any pairing";
    public const string PostgreSqlEstimateSystemName = "Estimate: the same on PostgreSQL, independent";
    public const string PostgreSqlModelSystemName = "Model: the same on PostgreSQL, with one write in flight";

    /// <summary>Whether <paramref name="system"/> is one of the rows computed here (they are not run).</summary>
    public static bool IsComputed(string system) =>
        system is SystemName or EstimateSystemName or ModelSystemName or PostgreSqlSystemName or PostgreSqlEstimateSystemName or PostgreSqlModelSystemName;

    /// <summary>
    /// The bound, the estimate and the model (messages sent at <paramref name="perSecond"/>); none when either row
    /// has no samples.
    /// </summary>
    public static IReadOnlyList<BenchResult> Rows(BenchResult? roundTrip, BenchResult? write, int perSecond, bool postgreSql = false)
    {
        var storage = postgreSql ? "a PostgreSQL commit" : "an Azurite write";
        if (roundTrip is not { LatencyTicks: { Length: > 0 } r } || write is not { LatencyTicks: { Length: > 0 } w })
        {
            return [];
        }

        var first = r.Order().ToArray();
        var second = w.Order().ToArray();
        var bound = new BenchResult
        {
            System = postgreSql ? PostgreSqlSystemName : SystemName,
            Durability = write.Durability,
            Workload = roundTrip.Workload,
            Messages = first.Length,
            Confirmed = first.Length,
            Delivered = first.Length,
            P50Ms = Recorder.Ms(SumQuantile.LeastOverAnyPairing(first, second, 0.50)),
            P99Ms = Recorder.Ms(SumQuantile.LeastOverAnyPairing(first, second, 0.99)),
            P999Ms = Recorder.Ms(SumQuantile.LeastOverAnyPairing(first, second, 0.999)),
            Note = $"the least each percentile of a round trip above plus {storage} can be, however slow calls and slow writes coincide: " +
                "no durable confirm with these parts is faster",
        };
        var estimate = bound with
        {
            System = postgreSql ? PostgreSqlEstimateSystemName : EstimateSystemName,
            P50Ms = Recorder.Ms(SumQuantile.Of(first, second, 0.50)),
            P99Ms = Recorder.Ms(SumQuantile.Of(first, second, 0.99)),
            P999Ms = Recorder.Ms(SumQuantile.Of(first, second, 0.999)),
            Note = $"every one of the {first.Length:N0} round trips added to every one of the {second.Length:N0} writes, with no wait between",
        };
        var modelled = Recorder.Percentiles(SingleWriterModel.Latencies(r, w, System.Diagnostics.Stopwatch.Frequency / perSecond));
        var model = bound with
        {
            System = postgreSql ? PostgreSqlModelSystemName : ModelSystemName,
            P50Ms = modelled?.P50,
            P99Ms = modelled?.P99,
            P999Ms = modelled?.P999,
            Note = $"the same samples in the order measured, {perSecond:N0} messages/s, one write at a time taking every message that arrived " +
                "before it started: what waiting for the write in flight costs (one 256-byte row per write, no other writes, nothing else running)",
        };
        return [bound, estimate, model];
    }
}
