namespace OrleansQueue.Benchmarks.Harness;

/// <summary>
/// A broker under test, seen the way its users see it: a producer whose send returns once the broker has the message
/// durably (a publisher confirm), and a consumer that the broker pushes messages to and that acknowledges each one.
/// </summary>
public interface IBenchTarget : IAsyncDisposable
{
    /// <summary>The row label, e.g. "OrleansQueue (Azure Table on Azurite)".</summary>
    string System { get; }

    /// <summary>
    /// How durable a confirm is when the send returns, so that no row is compared with another by mistake: for example
    /// <see cref="Durability.Fsync"/> or <see cref="Durability.Emulator"/>.
    /// </summary>
    string Durability { get; }

    /// <summary>The largest message count a workload gives this system (slow peers get fewer, so a run ends in minutes).</summary>
    int MaxMessages { get; }

    /// <summary>Starts the broker or connects to it.</summary>
    Task StartAsync();

    /// <summary>Creates <paramref name="queue"/> (empty) if the system needs that.</summary>
    Task PrepareAsync(string queue);

    /// <summary>Sends one message; returns once the broker confirmed it.</summary>
    Task SendAsync(string queue, byte[] body);

    /// <summary>
    /// Pushes every message of <paramref name="queue"/> to <paramref name="onMessage"/> (then acknowledges it) until
    /// disposed, with at most <paramref name="prefetch"/> unacknowledged at once.
    /// </summary>
    Task<IAsyncDisposable> ConsumeAsync(string queue, Action<ReadOnlyMemory<byte>> onMessage, int prefetch);

    /// <summary>The peak resident memory of the broker's processes so far, if this harness can see them.</summary>
    long? PeakMemoryBytes();

    /// <summary>
    /// The processes of the system under test other than this one (the broker, and the storage it writes to), whose
    /// CPU time a workload reports as the server's; what runs inside this process counts as the client's.
    /// </summary>
    IReadOnlyList<int> ServerProcessIds();

    /// <summary>What the system's storage has taken in so far (see <see cref="IWriteMeter"/>); null when it cannot be seen.</summary>
    IWriteMeter? Writes { get; }
}

/// <summary>The durability labels of the rows.</summary>
public static class Durability
{
    /// <summary>The confirm waits for an fsync of the message (alone or in a group commit).</summary>
    public const string Fsync = "fsync before confirm";

    /// <summary>The confirm waits for a write to Azurite, an emulator that keeps data in memory and never fsyncs.</summary>
    public const string Emulator = "in-memory emulator, no fsync";

    /// <summary>Nothing is stored outside the silo's memory.</summary>
    public const string Memory = "silo memory only";
}
