using System.Diagnostics;
using Azure;
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

    public static Task<BenchResult> RunAsync(string connectionString, int perSecond, double seconds) =>
        WithTableAsync(connectionString, "benchfloor", async table =>
        {
            var row = new TableEntity("floor", "row") { ["Body"] = new byte[Recorder.BodySize] };
            var etag = await UpsertAsync(table, row);
            return await Pacing.FloorRowAsync(SystemName, Durability.Emulator, perSecond, seconds,
                async () => etag = await ReplaceAsync(table, row, etag),
                "one table write per message, one at a time, the silo idle: the least a durable send on Azurite costs");
        });

    /// <summary>
    /// Azurite's own write rate, for W4: segment-sized rows (128 messages of 256 bytes, as OrleansQueue writes them)
    /// replaced by ETag, 8 writes in flight, for <paramref name="seconds"/>, with the silo idle. Run with an empty
    /// queue and again with the backlog stored, it shows how much Azurite itself slows down with what it holds.
    /// </summary>
    public static Task<BenchResult> WriteRateAsync(string connectionString, string state, double seconds = 5) =>
        WithTableAsync(connectionString, "benchrate", async table =>
        {
            var body = new byte[42 * 1024];
            var writes = 0;
            var watch = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, 8).Select(async writer =>
            {
                var row = new TableEntity("rate", $"row{writer}") { ["Body"] = body };
                var etag = await UpsertAsync(table, row);
                while (watch.Elapsed.TotalSeconds < seconds)
                {
                    etag = await ReplaceAsync(table, row, etag);
                    Interlocked.Increment(ref writes);
                }
            }));
            return Row($"{W4Workload}, {state}", writes, watch.Elapsed, "sent/s = table writes/s, with the silo idle");
        });

    /// <summary>
    /// The W1 matrix's floor for messages of <paramref name="size"/> bytes: 8 writers, each submitting transactions
    /// (one request) that insert one entity holding as many messages as fit in 15 binary properties of 64,000 bytes (at
    /// most 1,000) and delete the entity it inserted before: each message stored and removed once, in big writes, with
    /// the silo idle. The message rate a queue on Azurite could reach if it did nothing else.
    /// </summary>
    public static Task<BenchResult> MatrixAsync(string connectionString, int size, int? azuritePid, double seconds = 4) =>
        WithTableAsync(connectionString, "benchbulk", async table =>
        {
            const int property = 64_000;
            var perRow = Math.Min(1000, 15 * property / size);
            var meter = azuritePid is { } pid ? ProcIoMeter.AzuriteRequests(pid) : null;
            var before = meter is null ? null : await meter.ReadAsync();
            var cpu = new CpuMeter(azuritePid is { } p ? [p] : []);
            var rows = 0;
            var watch = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, 8).Select(async writer =>
            {
                var body = Recorder.Bodies(writer * perRow, perRow, size);

                TableEntity Entity(long seq)
                {
                    var entity = new TableEntity($"w{writer}", seq.ToString("D12", System.Globalization.CultureInfo.InvariantCulture));
                    for (var (offset, i) = (0, 0); offset < body.Length; offset += property, i++)
                    {
                        entity[$"B{i}"] = body.AsSpan(offset, Math.Min(property, body.Length - offset)).ToArray();
                    }

                    return entity;
                }

                for (long seq = 0; watch.Elapsed.TotalSeconds < seconds; seq++)
                {
                    var actions = new List<TableTransactionAction> { new(TableTransactionActionType.Add, Entity(seq)) };
                    if (seq > 0)
                    {
                        actions.Add(new(TableTransactionActionType.Delete, new TableEntity($"w{writer}", (seq - 1).ToString("D12", System.Globalization.CultureInfo.InvariantCulture)), ETag.All));
                    }

                    await table.SubmitTransactionAsync(actions);
                    Interlocked.Increment(ref rows);
                }
            }));
            var after = meter is null ? null : await meter.ReadAsync();
            return BenchResult.MatrixFloor(SystemName, Durability.Emulator, size, rows * perRow, watch.Elapsed, before, after, cpu,
                $"8 writers, each transaction inserts an entity of {perRow:N0} messages of {Workloads.SizeLabel(size)} and deletes the one before: " +
                "each message stored and removed once, in big writes, the silo idle");
        });

    /// <summary>Runs <paramref name="measure"/> against a table of its own, deleted afterwards.</summary>
    private static async Task<BenchResult> WithTableAsync(string connectionString, string prefix, Func<TableClient, Task<BenchResult>> measure)
    {
        var table = new TableClient(connectionString, $"{prefix}{Environment.ProcessId}");
        await table.CreateIfNotExistsAsync();
        try
        {
            return await measure(table);
        }
        finally
        {
            await table.DeleteAsync();
        }
    }

    private static async Task<ETag> UpsertAsync(TableClient table, TableEntity row) =>
        (await table.UpsertEntityAsync(row, TableUpdateMode.Replace)).Headers.ETag!.Value;

    /// <summary>Replaces the row by its ETag, as the grain storage provider writes a record.</summary>
    private static async Task<ETag> ReplaceAsync(TableClient table, TableEntity row, ETag etag) =>
        (await table.UpdateEntityAsync(row, etag, TableUpdateMode.Replace)).Headers.ETag!.Value;

    private static BenchResult Row(string workload, int writes, TimeSpan elapsed, string note) => new()
    {
        System = SystemName,
        Workload = workload,
        Messages = writes,
        Confirmed = writes,
        Delivered = writes,
        SentPerSecond = writes / elapsed.TotalSeconds,
        Note = note,
    };
}
