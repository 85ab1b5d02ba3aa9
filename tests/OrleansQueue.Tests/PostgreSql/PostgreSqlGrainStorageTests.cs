using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans.Configuration;
using Orleans.Runtime;
using Orleans.Storage;
using OrleansQueue.Options;
using OrleansQueue.PostgreSql;
using OrleansQueue.Tests.Infrastructure;
using MsOptions = Microsoft.Extensions.Options.Options;

namespace OrleansQueue.Tests.PostgreSql;

/// <summary>
/// The grain storage contract of <see cref="PostgreSqlGrainStorage"/> on a real PostgreSQL server, without a cluster:
/// what a read of nothing gives, the version-as-ETag sequence, conflicts that change nothing, clearing, the service id
/// as a boundary, and both encodings.
/// </summary>
public sealed class PostgreSqlGrainStorageTests(PostgreSqlGrainStorageTests.Server server) : IClassFixture<PostgreSqlGrainStorageTests.Server>
{
    private const string StateName = "queue";

    /// <summary>
    /// One PostgreSQL server for the class, and the services Orleans' serializers need (binary: <c>Serializer</c>;
    /// JSON: <c>OrleansJsonSerializer</c>, whose converters want a grain reference activator), from an Orleans client
    /// host that is built but never started: it connects to nothing.
    /// </summary>
    public sealed class Server : IAsyncLifetime
    {
        private readonly IHost _serializers = new HostBuilder().UseOrleansClient(c => c.UseLocalhostClustering()).Build();

        public PostgreSqlFixture PostgreSql { get; private set; } = null!;

        public IServiceProvider Services => _serializers.Services;

        public async Task InitializeAsync() => PostgreSql = await PostgreSqlFixture.StartAsync();

        public async Task DisposeAsync()
        {
            _serializers.Dispose();
            await PostgreSql.DisposeAsync();
        }
    }

    private PostgreSqlGrainStorage Storage(QueueStorageEncoding encoding = QueueStorageEncoding.Binary, string serviceId = "contract", int maxConcurrentCommits = 4) =>
        new("queues", new PostgreSqlQueueStorageOptions { ConnectionString = server.PostgreSql.ConnectionString, Encoding = encoding, MaxConcurrentCommits = maxConcurrentCommits },
            MsOptions.Create(new ClusterOptions { ClusterId = "contract", ServiceId = serviceId }), server.Services,
            NullLogger<PostgreSqlGrainStorage>.Instance);

    private static GrainId NewGrain() => GrainId.Create("contract", Guid.NewGuid().ToString("N"));

    private static GrainState<ContractRecord> State(string text, string? etag = null) =>
        new() { State = new ContractRecord { Text = text, Numbers = [text.Length, 42] }, ETag = etag };

    private static async Task<GrainState<ContractRecord>> ReadAsync(PostgreSqlGrainStorage storage, GrainId grain)
    {
        var state = new GrainState<ContractRecord>();
        await storage.ReadStateAsync(StateName, grain, state);
        return state;
    }

    [Fact]
    public async Task ReadingAMissingRecord_FindsNone()
    {
        await using var storage = Storage();
        var state = await ReadAsync(storage, NewGrain());
        Assert.False(state.RecordExists);
        Assert.Null(state.ETag);
        Assert.NotNull(state.State); // a fresh default state, as Orleans' own providers give
        Assert.Equal("", state.State!.Text);
    }

    [Theory]
    [InlineData(QueueStorageEncoding.Binary)]
    [InlineData(QueueStorageEncoding.Json)]
    public async Task ARecordRoundTrips_AndEachWriteGetsTheNextVersionAsItsETag(QueueStorageEncoding encoding)
    {
        await using var storage = Storage(encoding);
        var grain = NewGrain();
        var state = State("first");

        await storage.WriteStateAsync(StateName, grain, state);
        Assert.Equal(("1", true), (state.ETag, state.RecordExists));
        var read = await ReadAsync(storage, grain);
        Assert.Equal(("1", true, "first"), (read.ETag, read.RecordExists, read.State!.Text));
        Assert.Equal([5L, 42L], read.State!.Numbers);

        read.State!.Text = "second";
        await storage.WriteStateAsync(StateName, grain, read);
        Assert.Equal("2", read.ETag);
        var again = await ReadAsync(storage, grain);
        Assert.Equal(("2", "second"), (again.ETag, again.State!.Text));
    }

    [Fact]
    public async Task AWriteWithAStaleETag_Conflicts_AndChangesNothing()
    {
        await using var storage = Storage();
        var grain = NewGrain();
        var state = State("v1");
        await storage.WriteStateAsync(StateName, grain, state);
        state.State!.Text = "v2";
        await storage.WriteStateAsync(StateName, grain, state);
        Assert.Equal("2", state.ETag);

        var stale = State("from an old activation", etag: "1");
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync(StateName, grain, stale));
        Assert.Equal("1", stale.ETag); // the caller's state is left as it was

        var read = await ReadAsync(storage, grain);
        Assert.Equal(("2", "v2"), (read.ETag, read.State!.Text));
    }

    [Fact]
    public async Task WritesThatArriveTogether_ShareCommits_AndAConflictFailsOnlyItsOwnWrite()
    {
        await using var storage = Storage(maxConcurrentCommits: 1);
        var stored = Enumerable.Range(0, 10).Select(_ => NewGrain()).ToArray();
        var blocker = NewGrain();
        foreach (var grain in stored.Append(blocker))
        {
            await storage.WriteStateAsync(StateName, grain, State("v1"));
        }

        // The one committer is kept busy by a write that waits on a row lock held here, so the writes below all
        // arrive while it commits, whatever the machine's speed: they must then go together.
        await using var locker = new Npgsql.NpgsqlConnection(server.PostgreSql.ConnectionString);
        await locker.OpenAsync();
        await using var hold = await locker.BeginTransactionAsync();
        await using (var select = new Npgsql.NpgsqlCommand(
            $"SELECT 1 FROM {PostgreSqlSchema.StateTable} WHERE service_id = 'contract' AND grain_id = $1 FOR UPDATE", locker, hold))
        {
            select.Parameters.AddWithValue(blocker.ToString());
            await select.ExecuteScalarAsync();
        }

        var blocked = storage.WriteStateAsync(StateName, blocker, State("v2", etag: "1"));
        await Wait.UntilAsync(() => WaitingOnLocksAsync(locker, hold), waiting => waiting > 0, "the committer waits on the row lock");

        // 60 writes at once into that committer: 50 new records and 10 with a stale version, interleaved.
        var fresh = Enumerable.Range(0, 50).Select(_ => NewGrain()).ToArray();
        var writes = new List<(GrainId Grain, bool Stale, Task Write)>();
        for (var i = 0; i < 50; i++)
        {
            writes.Add((fresh[i], false, storage.WriteStateAsync(StateName, fresh[i], State($"new {i}"))));
            if (i % 5 == 0)
            {
                var grain = stored[i / 5];
                writes.Add((grain, true, storage.WriteStateAsync(StateName, grain, State("stale", etag: "7"))));
            }
        }

        await hold.RollbackAsync();
        await blocked;
        foreach (var (grain, stale, write) in writes)
        {
            if (stale)
            {
                await Assert.ThrowsAsync<InconsistentStateException>(() => write);
                var read = await ReadAsync(storage, grain);
                Assert.Equal(("1", "v1"), (read.ETag, read.State!.Text));
            }
            else
            {
                await write;
                Assert.Equal("1", (await ReadAsync(storage, grain)).ETag);
            }
        }

        // Rows written by one transaction share its id (xmin): the 50 new records in one transaction.
        await using var command = new Npgsql.NpgsqlCommand(
            $"SELECT count(DISTINCT xmin::text) FROM {PostgreSqlSchema.StateTable} WHERE service_id = 'contract' AND grain_id = ANY($1)", locker);
        command.Parameters.AddWithValue(fresh.Select(g => g.ToString()).ToArray());
        Assert.Equal(1L, (long)(await command.ExecuteScalarAsync())!);
    }

    /// <summary>How many other sessions wait on a lock (the committer, on the row <paramref name="hold"/> locked).</summary>
    private static async Task<long> WaitingOnLocksAsync(Npgsql.NpgsqlConnection connection, Npgsql.NpgsqlTransaction hold)
    {
        await using var command = new Npgsql.NpgsqlCommand(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()", connection, hold);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task AWriteWithoutAnETag_OverAStoredRecord_Conflicts_AndChangesNothing()
    {
        await using var storage = Storage();
        var grain = NewGrain();
        await storage.WriteStateAsync(StateName, grain, State("stored"));

        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync(StateName, grain, State("blind write")));

        var read = await ReadAsync(storage, grain);
        Assert.Equal(("1", "stored"), (read.ETag, read.State!.Text));
    }

    [Fact]
    public async Task AnETagThatIsNotARowVersion_Conflicts()
    {
        await using var storage = Storage();
        var grain = NewGrain();
        await storage.WriteStateAsync(StateName, grain, State("stored"));

        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync(StateName, grain, State("other", etag: "W/\"0x8D\"")));
        Assert.Equal("stored", (await ReadAsync(storage, grain)).State!.Text);
    }

    [Fact]
    public async Task ClearingWithTheRightETag_DeletesTheRecord_WhichCanThenBeWrittenAnew()
    {
        await using var storage = Storage();
        var grain = NewGrain();
        var state = State("doomed");
        await storage.WriteStateAsync(StateName, grain, state);

        await storage.ClearStateAsync(StateName, grain, state);
        Assert.Equal(((string?)null, false), (state.ETag, state.RecordExists));
        var read = await ReadAsync(storage, grain);
        Assert.Equal(((string?)null, false), (read.ETag, read.RecordExists));

        var reborn = State("reborn");
        await storage.WriteStateAsync(StateName, grain, reborn);
        Assert.Equal("1", reborn.ETag);
    }

    [Fact]
    public async Task ClearingWithAStaleETag_Conflicts_AndKeepsTheRecord()
    {
        await using var storage = Storage();
        var grain = NewGrain();
        var state = State("v1");
        await storage.WriteStateAsync(StateName, grain, state);
        state.State!.Text = "v2";
        await storage.WriteStateAsync(StateName, grain, state);

        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.ClearStateAsync(StateName, grain, State("v1", etag: "1")));

        var read = await ReadAsync(storage, grain);
        Assert.Equal(("2", true, "v2"), (read.ETag, read.RecordExists, read.State!.Text));
    }

    [Fact]
    public async Task ClearingWithoutAnETag_SucceedsWhenNothingIsStored_AndConflictsWhenSomethingIs()
    {
        await using var storage = Storage();
        var missing = NewGrain();
        var nothing = new GrainState<ContractRecord>();
        await storage.ClearStateAsync(StateName, missing, nothing);
        Assert.Equal(((string?)null, false), (nothing.ETag, nothing.RecordExists));
        Assert.False((await ReadAsync(storage, missing)).RecordExists);

        var stored = NewGrain();
        await storage.WriteStateAsync(StateName, stored, State("kept"));
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.ClearStateAsync(StateName, stored, new GrainState<ContractRecord>()));
        var read = await ReadAsync(storage, stored);
        Assert.Equal(("1", "kept"), (read.ETag, read.State!.Text));
    }

    [Fact]
    public async Task RecordsOfTwoServiceIds_DoNotSeeEachOther()
    {
        var suffix = Guid.NewGuid().ToString("N")[..8];
        await using var a = Storage(serviceId: "service-a-" + suffix);
        await using var b = Storage(serviceId: "service-b-" + suffix);
        var grain = NewGrain(); // the same grain and state name in both services

        var ofA = State("a's");
        await a.WriteStateAsync(StateName, grain, ofA);
        Assert.False((await ReadAsync(b, grain)).RecordExists);

        var ofB = State("b's");
        await b.WriteStateAsync(StateName, grain, ofB); // no conflict with a's row
        ofB.State!.Text = "b's, again";
        await b.WriteStateAsync(StateName, grain, ofB);
        Assert.Equal(("1", "2"), (ofA.ETag, ofB.ETag));

        await a.ClearStateAsync(StateName, grain, ofA);
        Assert.False((await ReadAsync(a, grain)).RecordExists);
        var readB = await ReadAsync(b, grain);
        Assert.Equal(("2", "b's, again"), (readB.ETag, readB.State!.Text));
    }
}

/// <summary>A record for the storage contract tests: a [GenerateSerializer] type, so both encodings accept it.</summary>
[GenerateSerializer, Alias("OrleansQueue.Tests.PostgreSql.ContractRecord")]
public sealed class ContractRecord
{
    [Id(0)]
    public string Text { get; set; } = "";

    [Id(1)]
    public List<long> Numbers { get; set; } = [];
}
