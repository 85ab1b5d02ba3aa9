using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using Orleans.Configuration;
using Orleans.Runtime;
using Orleans.Storage;
using OrleansQueue.Diagnostics;
using OrleansQueue.Options;

namespace OrleansQueue.PostgreSql;

/// <summary>
/// Grain storage on PostgreSQL for OrleansQueue's records: one row per grain and state name in
/// <see cref="PostgreSqlSchema.StateTable"/>, its <c>version</c> the ETag. Every write is one conditional statement;
/// writes that arrive together share a transaction (<see cref="PostgreSqlCommitGroups"/>), and a write returns once its
/// transaction committed (with PostgreSQL's default <c>synchronous_commit = on</c>, flushed to the write-ahead log on
/// disk). A write with an ETag that is not the stored version (or no ETag over a stored row) changes nothing and
/// throws <see cref="InconsistentStateException"/>. Clearing deletes the row.
/// </summary>
internal sealed partial class PostgreSqlGrainStorage : IGrainStorage, ILifecycleParticipant<ISiloLifecycle>, IAsyncDisposable
{
    private const string Columns = "service_id = $1 AND grain_id = $2 AND state_name = $3";
    private static readonly string ReadSql = $"SELECT version, payload FROM {PostgreSqlSchema.StateTable} WHERE {Columns}";
    private static readonly string InsertSql =
        $"INSERT INTO {PostgreSqlSchema.StateTable} (service_id, grain_id, state_name, version, payload) VALUES ($1, $2, $3, 1, $4) " +
        "ON CONFLICT DO NOTHING RETURNING version";
    private static readonly string UpdateSql =
        $"UPDATE {PostgreSqlSchema.StateTable} SET payload = $4, version = version + 1, written_at = now() WHERE {Columns} AND version = $5 RETURNING version";
    private static readonly string DeleteSql = $"DELETE FROM {PostgreSqlSchema.StateTable} WHERE {Columns} AND version = $4 RETURNING version";

    private readonly string _name;
    private readonly PostgreSqlQueueStorageOptions _options;
    private readonly string _serviceId;
    private readonly IGrainStorageSerializer _serializer;
    private readonly ILogger _logger;
    private readonly NpgsqlDataSource _dataSource;
    private readonly PostgreSqlCommitGroups _commits;

    public PostgreSqlGrainStorage(string name, PostgreSqlQueueStorageOptions options, IOptions<ClusterOptions> cluster,
        IServiceProvider services, ILogger<PostgreSqlGrainStorage> logger)
    {
        _name = name;
        _options = options;
        _serviceId = cluster.Value.ServiceId;
        _serializer = Hosting.QueueStorageSerializer.Create(options.Encoding, services);
        _logger = logger;
        _dataSource = CreateDataSource(options.ConnectionString);
        _commits = new PostgreSqlCommitGroups(_dataSource, options.MaxWritesPerCommit, options.MaxConcurrentCommits);
    }

    /// <summary>
    /// The connection pool. Unless the connection string says otherwise: Npgsql prepares the four statements on each
    /// connection the first times they run (<c>Max Auto Prepare</c>), so the server parses and plans each once per
    /// connection, not once per write; and a connection going back to the pool is not reset (<c>No Reset On
    /// Close</c>): these statements leave no session state behind, and the reset is seven more statements for the
    /// server before each write (measured with pg_stat_statements: 9,553 resets beside 9,654 writes in one benchmark cell).
    /// </summary>
    internal static NpgsqlDataSource CreateDataSource(string connectionString)
    {
        var builder = new NpgsqlDataSourceBuilder(connectionString);
        // The keys the string gives (NpgsqlConnectionStringBuilder.ContainsKey is true for every key it knows).
        var given = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = connectionString };
        if (!given.ContainsKey("Max Auto Prepare") && !given.ContainsKey("MaxAutoPrepare"))
        {
            builder.ConnectionStringBuilder.MaxAutoPrepare = 8;
            builder.ConnectionStringBuilder.AutoPrepareMinUsages = 2;
        }

        if (!given.ContainsKey("No Reset On Close") && !given.ContainsKey("NoResetOnClose"))
        {
            builder.ConnectionStringBuilder.NoResetOnClose = true;
        }

        return builder.Build();
    }

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe($"{nameof(PostgreSqlGrainStorage)}-{_name}", ServiceLifecycleStage.ApplicationServices, CheckAsync);

    private async Task CheckAsync(CancellationToken cancellationToken)
    {
        try
        {
            await PostgreSqlSchema.CheckAsync(_options.ConnectionString, cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidOperationException ex)
        {
            throw new OrleansConfigurationException($"Grain storage '{_name}' (OrleansQueue on PostgreSQL): {ex.Message}", ex);
        }
    }

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        ReadStateAsync(stateName, grainId, grainState, CancellationToken.None);

    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken)
    {
        try
        {
            await ReadOnceAsync(stateName, grainId, grainState, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsConnectionFailure(ex))
        {
            // A connection the server closed (a restart, a failover): reads are safe to make again, on a new one.
            await ReadOnceAsync(stateName, grainId, grainState, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task ReadOnceAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken)
    {
        await using var command = Command(ReadSql, stateName, grainId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var version = reader.GetInt64(0);
            var payload = reader.GetFieldValue<byte[]>(1);
            grainState.State = _serializer.Deserialize<T>(new BinaryData(payload));
            grainState.ETag = version.ToString(System.Globalization.CultureInfo.InvariantCulture);
            grainState.RecordExists = true;
        }
        else
        {
            grainState.State = Activator.CreateInstance<T>();
            grainState.ETag = null;
            grainState.RecordExists = false;
        }
    }

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        WriteStateAsync(stateName, grainId, grainState, CancellationToken.None);

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken)
    {
        var payload = _serializer.Serialize(grainState.State).ToMemory(); // no copy: Npgsql writes it as it is
        var expected = ParseETag(grainState.ETag, stateName, grainId);
        var command = BatchCommand(expected is null ? InsertSql : UpdateSql, stateName, grainId);
        command.Parameters.Add(new NpgsqlParameter<ReadOnlyMemory<byte>> { NpgsqlDbType = NpgsqlDbType.Bytea, TypedValue = payload });
        if (expected is { } version)
        {
            command.Parameters.Add(new NpgsqlParameter<long> { NpgsqlDbType = NpgsqlDbType.Bigint, TypedValue = version });
        }

        long? written;
        try
        {
            written = await _commits.ExecuteAsync(command, payload.Length, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsConnectionFailure(ex))
        {
            throw; // the write's outcome is unknown: the caller reloads (IsConnectionFailure dropped the dead connections)
        }

        if (written is not long newVersion)
        {
            throw Conflict("write", stateName, grainId, grainState.ETag);
        }

        grainState.ETag = newVersion.ToString(System.Globalization.CultureInfo.InvariantCulture);
        grainState.RecordExists = true;
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        ClearStateAsync(stateName, grainId, grainState, CancellationToken.None);

    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken)
    {
        if (ParseETag(grainState.ETag, stateName, grainId) is { } version)
        {
            var command = BatchCommand(DeleteSql, stateName, grainId);
            command.Parameters.Add(new NpgsqlParameter<long> { NpgsqlDbType = NpgsqlDbType.Bigint, TypedValue = version });
            long? deleted;
            try
            {
                deleted = await _commits.ExecuteAsync(command, 0, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (IsConnectionFailure(ex))
            {
                throw; // as a write: the caller reloads
            }

            if (deleted is null)
            {
                throw Conflict("delete", stateName, grainId, grainState.ETag);
            }
        }
        else
        {
            // Never read or written by this activation: clear only if nothing is stored.
            await using var command = Command(ReadSql, stateName, grainId);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            if (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                throw Conflict("delete", stateName, grainId, null);
            }
        }

        grainState.ETag = null;
        grainState.RecordExists = false;
        grainState.State = Activator.CreateInstance<T>();
    }

    /// <summary>
    /// Whether <paramref name="exception"/> says the connection is gone (the server restarted or closed it); if so the
    /// pool's idle connections, which a restart broke too, are dropped, so the next command opens a new one.
    /// </summary>
    private bool IsConnectionFailure(Exception exception)
    {
        var failed = exception is PostgresException { SqlState: "57P01" or "57P02" or "57P03" }
            || exception is NpgsqlException { InnerException: IOException or System.Net.Sockets.SocketException }
            || exception is NpgsqlException { IsTransient: true } and not PostgresException;
        if (failed)
        {
            LogConnectionLost(_name, exception.Message);
            _dataSource.Clear();
        }

        return failed;
    }

    private NpgsqlCommand Command(string sql, string stateName, GrainId grainId)
    {
        var command = _dataSource.CreateCommand(sql);
        AddKey(command.Parameters, stateName, grainId);
        return command;
    }

    private NpgsqlBatchCommand BatchCommand(string sql, string stateName, GrainId grainId)
    {
        var command = new NpgsqlBatchCommand(sql);
        AddKey(command.Parameters, stateName, grainId);
        return command;
    }

    private void AddKey(NpgsqlParameterCollection parameters, string stateName, GrainId grainId)
    {
        parameters.Add(new NpgsqlParameter<string> { NpgsqlDbType = NpgsqlDbType.Text, TypedValue = _serviceId });
        parameters.Add(new NpgsqlParameter<string> { NpgsqlDbType = NpgsqlDbType.Text, TypedValue = grainId.ToString() });
        parameters.Add(new NpgsqlParameter<string> { NpgsqlDbType = NpgsqlDbType.Text, TypedValue = stateName });
    }

    private static long? ParseETag(string? etag, string stateName, GrainId grainId) =>
        etag is null ? null
        : long.TryParse(etag, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var version) ? version
        : throw new InconsistentStateException($"Record '{stateName}' of {grainId}: the ETag '{etag}' is not a PostgreSQL row version.", storedEtag: null, currentEtag: etag);

    private InconsistentStateException Conflict(string what, string stateName, GrainId grainId, string? etag)
    {
        LogConflict(what, stateName, grainId, etag);
        return new InconsistentStateException(
            $"The {what} of record '{stateName}' of {grainId} in storage '{_name}' conflicted: the stored version is not {etag ?? "absent"} (another writer changed it).",
            storedEtag: null, currentEtag: etag);
    }

    public async ValueTask DisposeAsync()
    {
        await _commits.DisposeAsync().ConfigureAwait(false);
        await _dataSource.DisposeAsync().ConfigureAwait(false);
    }

    [LoggerMessage((int)LogEvent.PostgreSqlConnectionLost, LogLevel.Warning, "Storage {Name}: a PostgreSQL connection was lost ({Reason}); idle connections are dropped and new ones opened")]
    private partial void LogConnectionLost(string name, string reason);

    [LoggerMessage((int)LogEvent.PostgreSqlConflict, LogLevel.Debug, "PostgreSQL {What} of record {StateName} of {GrainId} conflicted (expected version {ETag})")]
    private partial void LogConflict(string what, string stateName, GrainId grainId, string? etag);
}
