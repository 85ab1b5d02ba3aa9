using System.Diagnostics;
using Azure.Data.Tables;

namespace OrleansQueue.Benchmarks.Harness;

/// <summary>
/// The floor under OrleansQueue's W3 latency on Azurite: one Azure Table write per message, paced like W3, straight
/// from this process to the benchmark's Azurite, each replacing one 256-byte row by its ETag as the grain storage
/// provider does. A durable queue confirms and delivers a message only after at least one such write, so no
/// OrleansQueue latency on Azurite can be below this row's. It runs right after OrleansQueue's W3, against the same
/// Azurite with the silo idle.
/// </summary>
public static class AzuriteFloor
{
    public const string SystemName = "Azurite alone (the storage under OrleansQueue)";

    /// <summary>The W4 floor rows' workload names start with this.</summary>
    public const string W4Workload = "W4 table writes/s of 42 KB rows, 8 in flight";

    public static async Task<BenchResult> RunAsync(string connectionString, int perSecond, double seconds)
    {
        var table = new TableClient(connectionString, $"benchfloor{Environment.ProcessId}");
        await table.CreateIfNotExistsAsync();
        try
        {
            var row = new TableEntity("floor", "row") { ["Body"] = new byte[Recorder.BodySize] };
            var etag = (await table.UpsertEntityAsync(row, TableUpdateMode.Replace)).Headers.ETag!.Value;
            for (var i = 0; i < 1000; i++)
            {
                etag = (await table.UpdateEntityAsync(row, etag, TableUpdateMode.Replace)).Headers.ETag!.Value; // warm-up
            }

            var count = (int)(perSecond * seconds);
            var ticks = new long[count];
            var watch = Stopwatch.StartNew();
            for (var i = 0; i < count; i++)
            {
                var due = TimeSpan.FromSeconds(i / (double)perSecond);
                if (due > watch.Elapsed)
                {
                    await Task.Delay(due - watch.Elapsed);
                }

                var start = Stopwatch.GetTimestamp();
                etag = (await table.UpdateEntityAsync(row, etag, TableUpdateMode.Replace)).Headers.ETag!.Value;
                ticks[i] = Stopwatch.GetTimestamp() - start;
            }

            var latency = Recorder.Percentiles(ticks);
            return new BenchResult
            {
                System = SystemName,
                Workload = $"W3 paced {perSecond:N0} msg/s",
                Messages = count,
                Confirmed = count,
                Delivered = count,
                SentPerSecond = count / watch.Elapsed.TotalSeconds,
                P50Ms = latency?.P50,
                P99Ms = latency?.P99,
                P999Ms = latency?.P999,
                Note = "one table write per message, one at a time, the silo idle: the least a durable send on Azurite costs",
            };
        }
        finally
        {
            await table.DeleteAsync();
        }
    }

    /// <summary>
    /// Azurite's own write rate, for W4: segment-sized rows (128 messages of 256 bytes, as OrleansQueue writes them)
    /// replaced by ETag, 8 writes in flight, for <paramref name="seconds"/>, with the silo idle. Run with an empty
    /// queue and again with the backlog stored, it shows how much Azurite itself slows down with what it holds.
    /// </summary>
    public static async Task<BenchResult> WriteRateAsync(string connectionString, string state, double seconds = 5)
    {
        var table = new TableClient(connectionString, $"benchrate{Environment.ProcessId}");
        await table.CreateIfNotExistsAsync();
        try
        {
            var body = new byte[42 * 1024];
            var writes = 0;
            var watch = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, 8).Select(async writer =>
            {
                var row = new TableEntity("rate", $"row{writer}") { ["Body"] = body };
                var etag = (await table.UpsertEntityAsync(row, TableUpdateMode.Replace)).Headers.ETag!.Value;
                while (watch.Elapsed.TotalSeconds < seconds)
                {
                    etag = (await table.UpdateEntityAsync(row, etag, TableUpdateMode.Replace)).Headers.ETag!.Value;
                    Interlocked.Increment(ref writes);
                }
            }));
            return new BenchResult
            {
                System = SystemName,
                Workload = $"{W4Workload}, {state}",
                Messages = writes,
                Confirmed = writes,
                Delivered = writes,
                SentPerSecond = writes / watch.Elapsed.TotalSeconds,
                Note = "sent/s = table writes/s, with the silo idle",
            };
        }
        finally
        {
            await table.DeleteAsync();
        }
    }
}
