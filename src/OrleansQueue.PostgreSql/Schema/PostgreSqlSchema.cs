using System.Net.Sockets;
using Npgsql;

namespace OrleansQueue.PostgreSql;

/// <summary>
/// OrleansQueue's PostgreSQL schema: the queue records' table, and the tables, functions and named queries that Orleans'
/// ADO.NET clustering and reminder providers read (<c>Invariant = "Npgsql"</c>). <see cref="ApplyAsync"/> is idempotent.
/// </summary>
public static class PostgreSqlSchema
{
    /// <summary>The table that holds queue, dead-letter and registry records.</summary>
    public const string StateTable = "orleansqueue_grain_state";

    /// <summary>The ADO.NET invariant name Orleans' clustering and reminder providers take for PostgreSQL.</summary>
    public const string Invariant = "Npgsql";

    /// <summary>The SQL script <see cref="ApplyAsync"/> runs (in one transaction), for running it with <c>psql -1 -f</c> instead.</summary>
    public static string Script
    {
        get
        {
            using var stream = typeof(PostgreSqlSchema).Assembly.GetManifestResourceStream("OrleansQueue.PostgreSql.Schema.sql")
                ?? throw new InvalidOperationException("The schema script is missing from the OrleansQueue.PostgreSql assembly.");
            using var reader = new StreamReader(stream);
            return reader.ReadToEnd();
        }
    }

    /// <summary>Creates what is missing of the schema and replaces its functions and named queries with this version's.</summary>
    public static async Task ApplyAsync(string connectionString, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(connectionString, cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (var command = new NpgsqlCommand(Script, connection, transaction))
        {
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Checks that the server can be reached, the credentials are accepted and the schema is there, and throws an
    /// <see cref="InvalidOperationException"/> that says which and what to do otherwise.
    /// </summary>
    public static async Task CheckAsync(string connectionString, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(connectionString, cancellationToken).ConfigureAwait(false);
        bool present;
        await using (var tables = new NpgsqlCommand(
            $"SELECT to_regclass('{StateTable}') IS NOT NULL AND to_regclass('orleansquery') IS NOT NULL", connection))
        {
            present = await tables.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is true;
        }

        if (present)
        {
            // The named queries of this version (the last one the script adds).
            await using var queries = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM orleansquery WHERE querykey = 'DeleteReminderRowsKey')", connection);
            present = await queries.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is true;
        }

        if (!present)
        {
            var builder = new NpgsqlConnectionStringBuilder(connectionString);
            throw new InvalidOperationException(
                $"The OrleansQueue schema is missing in database '{builder.Database}' on {builder.Host}:{builder.Port}. Create it with " +
                "'dotnet run --project silo-host -- schema --Storage:Provider=PostgreSql --Storage:ConnectionString=\"...\"' " +
                "(or PostgreSqlSchema.ApplyAsync, or psql -1 -f src/OrleansQueue.PostgreSql/Schema/orleansqueue-postgresql.sql); it is idempotent.");
        }
    }

    /// <summary>Opens a connection, turning the usual failures into errors that name the cause.</summary>
    internal static async Task<NpgsqlConnection> OpenAsync(string connectionString, CancellationToken cancellationToken)
    {
        NpgsqlConnectionStringBuilder builder;
        NpgsqlConnection connection;
        try
        {
            // Unpooled: a pooled connection from before a server restart would fail the first command sent on it.
            builder = new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false };
            connection = new NpgsqlConnection(builder.ConnectionString);
        }
        catch (ArgumentException ex)
        {
            throw new InvalidOperationException($"The PostgreSQL connection string is not valid: {ex.Message}", ex);
        }

        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch (Exception ex) when (Describe(ex, builder) is { } message)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw new InvalidOperationException(message, ex);
        }
    }

    /// <summary>What a failure to connect means, or null when it is none of the usual causes.</summary>
    internal static string? Describe(Exception exception, NpgsqlConnectionStringBuilder builder)
    {
        var where = $"PostgreSQL at {builder.Host}:{builder.Port}, database '{builder.Database}', user '{builder.Username}'";
        return exception switch
        {
            PostgresException { SqlState: "28P01" or "28000" } => $"{where} refused the credentials ({exception.Message}). Check the password in the connection string.",
            PostgresException { SqlState: "3D000" } => $"{where}: the database does not exist ({exception.Message}). Create it, then the schema.",
            NpgsqlException { InnerException: SocketException or TimeoutException } or NpgsqlException { IsTransient: true } when exception is not PostgresException =>
                $"{where} cannot be reached ({exception.InnerException?.Message ?? exception.Message}). Is the server running and listening there?",
            _ => null,
        };
    }
}
