using Npgsql;

namespace OrleansQueue.Benchmarks.Harness;

/// <summary>
/// A running total of the bytes a system's storage took in, for write amplification (storage bytes per message
/// byte): read before and after a workload.
/// </summary>
public interface IWriteMeter
{
    /// <summary>What is counted, for the report.</summary>
    string What { get; }

    /// <summary>The total so far, or null when it cannot be read.</summary>
    Task<long?> ReadAsync();
}

/// <summary>A counter of /proc/&lt;pid&gt;/io (Linux), e.g. <c>rchar</c> (bytes read through system calls, sockets included) or <c>write_bytes</c> (bytes sent to the disk).</summary>
public sealed class ProcIoMeter(int pid, string field, string what) : IWriteMeter
{
    /// <summary>
    /// Bytes Azurite read through system calls: the requests it received (it keeps its data in memory here and reads
    /// no files while it runs).
    /// </summary>
    public static ProcIoMeter AzuriteRequests(int pid) => new(pid, "rchar", "request bytes Azurite received (/proc rchar)");

    public string What => what;

    public Task<long?> ReadAsync()
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/io"))
            {
                if (line.StartsWith(field + ":", StringComparison.Ordinal))
                {
                    return Task.FromResult<long?>(long.Parse(line.AsSpan(field.Length + 1).Trim()));
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }

        return Task.FromResult<long?>(null);
    }
}

/// <summary>The PostgreSQL cluster's write-ahead log position: WAL bytes written since any earlier reading (every database of the cluster).</summary>
public sealed class WalMeter(string connectionString) : IWriteMeter
{
    public string What => "PostgreSQL WAL bytes (pg_current_wal_insert_lsn)";

    public async Task<long?> ReadAsync()
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::bigint", connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
