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

    /// <summary>
    /// Most record writes in one transaction. Writes that arrive while others are committing are sent together, in one
    /// round trip, and stored by one commit (one WAL flush), each still conditional on its own version. Default 64;
    /// 1 to 1,000 (1: each write is a transaction of its own).
    /// </summary>
    public int MaxWritesPerCommit { get; set; } = 64;

    /// <summary>
    /// Most transactions of record writes running at once, each on a connection of its own (the silo's other
    /// statements, reads and the set-up, use further pooled connections). Default 4; 1 to 64.
    /// </summary>
    public int MaxConcurrentCommits { get; set; } = 4;

    /// <summary>How records are encoded; default <see cref="QueueStorageEncoding.Binary"/>. Every silo must use the same.</summary>
    public QueueStorageEncoding Encoding { get; set; } = QueueStorageEncoding.Binary;
}
