using System.Diagnostics;
using Azure.Data.Tables;

namespace OrleansQueue.Benchmarks.Harness;

/// <summary>
/// The floor under OrleansQueue's W3 latency on Azurite: one Azure Table write per message, paced like W3, straight
/// from this process to the benchmark's Azurite, each replacing one 256-byte row by its ETag as the grain storage
/// provider does. A durable queue confirms and delivers a message only after at least one such write, so no
/// OrleansQueue latency on Azurite can be below this row's. It runs after every system has stopped.
/// </summary>
public static class AzuriteFloor
{
    public const string SystemName = "Azurite alone: one table write per message";

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
                Note = "one write at a time, nothing else running: the least a durable send on Azurite costs",
            };
        }
        finally
        {
            await table.DeleteAsync();
        }
    }
}
