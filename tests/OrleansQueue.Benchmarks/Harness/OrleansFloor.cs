using System.Diagnostics;
using System.Globalization;
using System.Net;
using Azure.Data.Tables;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Orleans.Configuration;
using OrleansQueue.Hosting;
using OrleansQueue.Tests.Infrastructure;

namespace OrleansQueue.Benchmarks.Harness;

[Alias("oq.bench.IFloorGrain")]
public interface IFloorGrain : IGrainWithIntegerKey
{
    Task Store(byte[] body);

    /// <summary>Answers at once: the Orleans round trip alone.</summary>
    Task Echo(byte[] body);
}

[GenerateSerializer, Alias("oq.bench.FloorRecord")]
public sealed class FloorRecord
{
    [Id(0)] public byte[] Body { get; set; } = [];
}

/// <summary>Stores each call's body in its own grain state record, then returns: one durable write per call.</summary>
public sealed class FloorGrain([PersistentState("floor", OrleansFloor.StorageName)] IPersistentState<FloorRecord> state) : Grain, IFloorGrain
{
    public async Task Store(byte[] body)
    {
        state.State.Body = body;
        await state.WriteStateAsync();
    }

    public Task Echo(byte[] body) => Task.CompletedTask;
}

/// <summary>
/// The simplest durable call on Orleans and Azure Table storage, beside OrleansQueue's W3: a client call over the
/// gateway to a grain that writes one 256-byte grain state record to Azurite through the Orleans Azure Table provider
/// (Orleans binary serializer, as the silo host stores) and answers. Nothing else: no queue, no batching, no delivery.
/// The calls are paced like W3 and spread over 64 grains, so no call waits for another's write. Every durable confirm
/// on this stack does this work (a call in, at least one storage write, an answer out): the row shows what the stack
/// under OrleansQueue costs, Orleans messaging included, where the Azurite row shows the storage write alone.
/// It runs right after OrleansQueue's W3, against the same Azurite, with the OrleansQueue silo idle. Its silo is a
/// process of its own (this program, run as <c>floor-silo</c>, with inline socket completions as the silo host), and this
/// process's client reaches it over TCP, as the benchmark's client reaches the silo host.
/// Before the write row it measures the same calls answered at once, with no write (<see cref="RoundTripSystemName"/>):
/// the Orleans messaging that any queue on Orleans adds to the storage write, for <see cref="LowerBound"/>.
/// </summary>
public static class OrleansFloor
{
    public const string SystemName = "Orleans call + one Azure Table write (no queue)";
    public const string PostgreSqlSystemName = "Orleans call + one PostgreSQL commit (no queue)";
    public const string RoundTripSystemName = "Orleans call, no storage";
    public const string StorageName = "floor";
    public const string SiloCommand = "floor-silo";
    private const string ClusterId = "oq-bench-floor";
    private const string TableStorage = "table";
    private const string PostgreSqlStorage = "postgres";
    private const int Grains = 64;

    /// <summary>The floor's silo, until SIGTERM: what this program runs as <see cref="SiloCommand"/>.</summary>
    /// <param name="storage"><c>table</c> (Azure Table, <paramref name="connectionString"/> to Azurite) or <c>postgres</c>.</param>
    public static async Task RunSiloAsync(string storage, int siloPort, int gatewayPort, string connectionString, string table)
    {
        // As the silo host does for itself (silo-host/Program.cs), before the first socket.
        if (Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS") is null)
        {
            Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
        }

        var builder = Host.CreateApplicationBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Logging.AddFilter("Orleans.AzureUtils", LogLevel.Error);
        builder.UseOrleans(silo =>
        {
            silo.UseLocalhostClustering(siloPort, gatewayPort, new IPEndPoint(IPAddress.Loopback, siloPort), ClusterId, ClusterId);
            // Registered as queue storage is (the silo host's default, binary encoding), so the write costs the same.
            if (storage == PostgreSqlStorage)
            {
                silo.AddOrleansQueuePostgreSqlStorage(StorageName, o => o.ConnectionString = connectionString);
            }
            else
            {
                silo.AddOrleansQueueAzureTableStorage(StorageName, o =>
                {
                    o.TableServiceClient = new TableServiceClient(connectionString);
                    o.TableName = table;
                });
            }
        });
        using var host = builder.Build();
        await host.RunAsync();
    }

    /// <summary>The round-trip row (when <paramref name="roundTrip"/>), then the write row, on Azurite.</summary>
    public static Task<IReadOnlyList<BenchResult>> RunAsync(string connectionString, int perSecond, double seconds, bool roundTrip = true) =>
        RunAsync(TableStorage, connectionString, perSecond, seconds, roundTrip);

    /// <summary>
    /// The same on PostgreSQL (<see cref="PostgreSqlSystemName"/>): each call one grain state write through OrleansQueue's
    /// PostgreSQL storage, a commit that waits for its fsync. The round-trip row too when <paramref name="roundTrip"/>
    /// (a run without Azurite has none yet).
    /// </summary>
    public static Task<IReadOnlyList<BenchResult>> RunPostgreSqlAsync(string connectionString, int perSecond, double seconds, bool roundTrip) =>
        RunAsync(PostgreSqlStorage, connectionString, perSecond, seconds, roundTrip);

    private static async Task<IReadOnlyList<BenchResult>> RunAsync(string storage, string connectionString, int perSecond, double seconds, bool measureRoundTrip)
    {
        var siloPort = Loopback.FreePort();
        var gatewayPort = Loopback.FreePort();
        var table = $"benchorleansfloor{Environment.ProcessId}";
        var program = Path.Combine(AppContext.BaseDirectory, "OrleansQueue.Benchmarks.dll");
        await using var silo = await SiloHostProcess.StartAsync(program, gatewayPort,
            [SiloCommand, storage, siloPort.ToString(CultureInfo.InvariantCulture), gatewayPort.ToString(CultureInfo.InvariantCulture), connectionString, table]);
        using var client = new HostBuilder()
            .UseOrleansClient(c =>
            {
                c.UseStaticClustering(new IPEndPoint(IPAddress.Loopback, gatewayPort));
                c.Configure<ClusterOptions>(o => (o.ServiceId, o.ClusterId) = (ClusterId, ClusterId));
            })
            .Build();
        await client.StartAsync();
        try
        {
            var grains = client.Services.GetRequiredService<IClusterClient>();
            var body = new byte[Recorder.BodySize];
            // Warm-up: every grain activated with its record written, JIT on both sides.
            for (var round = 0; round < 16; round++)
            {
                await Task.WhenAll(Enumerable.Range(0, Grains).Select(g => grains.GetGrain<IFloorGrain>(g).Store(body)));
                await Task.WhenAll(Enumerable.Range(0, Grains).Select(g => grains.GetGrain<IFloorGrain>(g).Echo(body)));
            }

            var count = (int)(perSecond * seconds);
            var rows = new List<BenchResult>();
            if (measureRoundTrip)
            {
                var roundTrip = await PacedAsync(count, perSecond, i => grains.GetGrain<IFloorGrain>(i % Grains).Echo(body));
                rows.Add(BenchResult.Paced(RoundTripSystemName, perSecond, roundTrip.Ticks, roundTrip.Elapsed,
                    "the same calls answered at once: the Orleans messaging (client to silo and back) that a queue on Orleans adds to its write"
                    + TimedOut(roundTrip.TimedOut, count)));
            }

            var write = await PacedAsync(count, perSecond, i => grains.GetGrain<IFloorGrain>(i % Grains).Store(body));
            rows.Add(storage == PostgreSqlStorage
                ? BenchResult.Paced(PostgreSqlSystemName, perSecond, write.Ticks, write.Elapsed,
                    "a client call, one grain state write committed to PostgreSQL, the answer (silo in its own process): the simplest durable call on Orleans and PostgreSQL"
                    + TimedOut(write.TimedOut, count)) with { Durability = PostgreSqlFloor.Durability }
                : BenchResult.Paced(SystemName, perSecond, write.Ticks, write.Elapsed,
                    "a client call, one grain state write, the answer (silo in its own process): the simplest durable call on Orleans and Azurite"
                    + TimedOut(write.TimedOut, count)));
            return rows;
        }
        finally
        {
            await client.StopAsync();
            await silo.StopAsync(TimeSpan.FromSeconds(30));
            if (storage == PostgreSqlStorage)
            {
                await DeletePostgreSqlRecordsAsync(connectionString);
            }
            else
            {
                await new TableClient(connectionString, table).DeleteAsync();
            }
        }
    }

    /// <summary>The floor grains' records, which the floor silo wrote under its own service id.</summary>
    private static async Task DeletePostgreSqlRecordsAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var delete = new NpgsqlCommand("DELETE FROM orleansqueue_grain_state WHERE service_id = $1", connection);
        delete.Parameters.Add(new NpgsqlParameter { Value = ClusterId });
        await delete.ExecuteNonQueryAsync();
    }

    private static string TimedOut(int timedOut, int count) => timedOut == 0 ? ""
        : $"; {timedOut:N0} of {count:N0} calls timed out (Orleans' 30 s response timeout: the grain's calls queued behind slow writes), each counted at its time to the timeout, a lower bound";

    /// <summary>
    /// <paramref name="count"/> calls started at <paramref name="perSecond"/>, each timed to its answer. A call that
    /// times out counts with its time until the timeout: a floor row reports what the storage did, it does not stop the run.
    /// </summary>
    private static async Task<(long[] Ticks, TimeSpan Elapsed, int TimedOut)> PacedAsync(int count, int perSecond, Func<int, Task> call)
    {
        var ticks = new long[count];
        var calls = new List<Task<bool>>(count);
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < count; i++)
        {
            await Pacing.WaitForTurnAsync(watch, i, perSecond);
            calls.Add(TimedAsync(call, ticks, i));
        }

        var answered = await Task.WhenAll(calls);
        return (ticks, watch.Elapsed, answered.Count(a => !a));
    }

    private static async Task<bool> TimedAsync(Func<int, Task> call, long[] ticks, int index)
    {
        var start = Stopwatch.GetTimestamp();
        var answered = true;
        try
        {
            await call(index);
        }
        catch (TimeoutException)
        {
            answered = false;
        }

        ticks[index] = Stopwatch.GetTimestamp() - start;
        return answered;
    }
}
