using System.Diagnostics;
using Npgsql;
using NpgsqlTypes;

namespace OrleansQueue.Benchmarks.Harness;

/// <summary>
/// What the PostgreSQL server under OrleansQueue sustains by itself, straight from this process on a table of its own
/// (with the silo idle), with PostgreSQL's default durability (every commit waits for its WAL fsync):
/// <list type="bullet">
/// <item>W3's floor: single-row commits paced like W3, each a conditional update of one 256-byte row by its version,
/// as the storage provider writes a record; no durable confirm on this server is faster;</item>
/// <item>the W1 matrix's floor, one row per message size: 8 connections, each committing transactions that insert one
/// row holding as many messages of that size as fit in 1 MiB (at most 1,000) and delete the row it inserted before,
/// so each message is stored once and removed once, in big writes; the message rate a queue on this server could
/// reach if it did nothing else.</item>
/// </list>
/// </summary>
public static class PostgreSqlFloor
{
    public const string SystemName = "PostgreSQL alone (the storage under OrleansQueue)";

    /// <summary>Each commit of the floor rows waits for its fsync.</summary>
    public const string Durability = "fsync per commit";

    private const int Writers = 8;
    private const int RowBytes = 1024 * 1024;

    public static async Task<BenchResult> RunAsync(string connectionString, int perSecond, double seconds)
    {
        await using var data = NpgsqlDataSource.Create(connectionString);
        await using var connection = await data.OpenConnectionAsync();
        await ExecuteAsync(connection, "DROP TABLE IF EXISTS bench_floor_w3; CREATE TABLE bench_floor_w3 (id int PRIMARY KEY, version bigint NOT NULL, body bytea NOT NULL)");
        try
        {
            var body = Recorder.Body(0);
            await using (var insert = new NpgsqlCommand("INSERT INTO bench_floor_w3 VALUES (1, 0, $1)", connection))
            {
                insert.Parameters.Add(new NpgsqlParameter { Value = body, NpgsqlDbType = NpgsqlDbType.Bytea });
                await insert.ExecuteNonQueryAsync();
            }

            await using var update = new NpgsqlCommand("UPDATE bench_floor_w3 SET body = $1, version = version + 1 WHERE id = 1 AND version = $2", connection);
            update.Parameters.Add(new NpgsqlParameter { Value = body, NpgsqlDbType = NpgsqlDbType.Bytea });
            update.Parameters.Add(new NpgsqlParameter { Value = 0L, NpgsqlDbType = NpgsqlDbType.Bigint });
            await update.PrepareAsync();
            long version = 0;
            async Task WriteAsync()
            {
                update.Parameters[1].Value = version++;
                if (await update.ExecuteNonQueryAsync() != 1)
                {
                    throw new InvalidOperationException("The floor row's version did not match.");
                }
            }

            return await Pacing.FloorRowAsync(SystemName, Durability, perSecond, seconds, WriteAsync,
                "one conditional single-row update per message, each its own commit, one at a time, the silo idle: the least a durable send on PostgreSQL costs");
        }
        finally
        {
            await ExecuteAsync(connection, "DROP TABLE IF EXISTS bench_floor_w3");
        }
    }

    /// <summary>The matrix floor for messages of <paramref name="size"/> bytes, over <paramref name="seconds"/>.</summary>
    public static async Task<BenchResult> MatrixAsync(string connectionString, int size, double seconds = 4)
    {
        var perRow = Math.Min(1000, RowBytes / size);
        await using var data = NpgsqlDataSource.Create(connectionString);
        await using (var setup = await data.OpenConnectionAsync())
        {
            await ExecuteAsync(setup, "DROP TABLE IF EXISTS bench_floor_bulk; CREATE TABLE bench_floor_bulk (writer int NOT NULL, seq bigint NOT NULL, body bytea NOT NULL, PRIMARY KEY (writer, seq))");
        }

        await SettleAsync(connectionString);

        try
        {
            var wal = new WalMeter(connectionString);
            var before = await wal.ReadAsync();
            var rows = 0;
            var cpu = new CpuMeter(PostmasterPids());
            var watch = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, Writers).Select(async writer =>
            {
                var body = Recorder.Bodies(writer * perRow, perRow, size);

                await using var connection = await data.OpenConnectionAsync();
                // One batch, one round trip, one implicit transaction: both statements, one commit.
                await using var batch = new NpgsqlBatch(connection)
                {
                    BatchCommands =
                    {
                        new NpgsqlBatchCommand("INSERT INTO bench_floor_bulk VALUES ($1, $2, $3)"),
                        new NpgsqlBatchCommand("DELETE FROM bench_floor_bulk WHERE writer = $1 AND seq = $2"),
                    },
                };
                var insert = batch.BatchCommands[0].Parameters;
                insert.Add(new NpgsqlParameter { Value = writer, NpgsqlDbType = NpgsqlDbType.Integer });
                insert.Add(new NpgsqlParameter { Value = 0L, NpgsqlDbType = NpgsqlDbType.Bigint });
                insert.Add(new NpgsqlParameter { Value = body, NpgsqlDbType = NpgsqlDbType.Bytea });
                var delete = batch.BatchCommands[1].Parameters;
                delete.Add(new NpgsqlParameter { Value = writer, NpgsqlDbType = NpgsqlDbType.Integer });
                delete.Add(new NpgsqlParameter { Value = -1L, NpgsqlDbType = NpgsqlDbType.Bigint });
                for (long seq = 0; watch.Elapsed.TotalSeconds < seconds; seq++)
                {
                    insert[1].Value = seq;
                    delete[1].Value = seq - 1;
                    await batch.ExecuteNonQueryAsync();
                    Interlocked.Increment(ref rows);
                }
            }));
            var after = await wal.ReadAsync();
            return BenchResult.MatrixFloor(SystemName, Durability, size, rows * perRow, watch.Elapsed, before, after, cpu,
                $"{Writers} connections, each commit inserts a row of {perRow:N0} messages of {Workloads.SizeLabel(size)} and deletes the row before it: " +
                "each message stored and removed once, in big writes, the silo idle");
        }
        finally
        {
            await using var cleanup = await data.OpenConnectionAsync();
            await ExecuteAsync(cleanup, "DROP TABLE IF EXISTS bench_floor_bulk");
        }
    }

    /// <summary>
    /// Untimed, before each matrix cell and floor on PostgreSQL: vacuums the benchmark's database (every table its user
    /// owns) and takes a checkpoint (.ci/bench grants its user <c>pg_checkpoint</c>), so what the cell before deleted
    /// is not cleaned up by autovacuum, nor its WAL checkpointed, while the next one runs. Without it, the same floor
    /// measured 669-1,088 msgs/s of 64 KiB depending on what ran before.
    /// </summary>
    public static async Task SettleAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("VACUUM", connection) { CommandTimeout = 600 };
        await command.ExecuteNonQueryAsync();
        command.CommandText = "CHECKPOINT";
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>The server's process id (postmaster), when the harness was told it (POSTGRES_PID).</summary>
    public static IReadOnlyList<int> PostmasterPids() =>
        int.TryParse(Environment.GetEnvironmentVariable("POSTGRES_PID"), out var pid) ? [pid] : [];

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
