namespace OrleansQueue.Options;

/// <summary>Where OrleansQueue keeps its records on PostgreSQL.</summary>
public sealed class PostgreSqlQueueStorageOptions
{
    /// <summary>
    /// The Npgsql connection string (for example <c>Host=127.0.0.1;Port=5432;Database=orleansqueue;Username=oq;Password=...</c>).
    /// Required. The database needs the schema (<c>PostgreSqlSchema.ApplyAsync</c>); a silo checks at start-up that it
    /// can connect and that the schema is there, and stops with an error that says what is wrong otherwise.
    /// </summary>
    public string ConnectionString { get; set; } = "";

    /// <summary>How records are encoded; default <see cref="QueueStorageEncoding.Binary"/>. Every silo must use the same.</summary>
    public QueueStorageEncoding Encoding { get; set; } = QueueStorageEncoding.Binary;
}
