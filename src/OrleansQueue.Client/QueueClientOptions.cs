using Orleans.Runtime;
using Orleans.Runtime.Messaging;

namespace OrleansQueue;

/// <summary>Options of a <see cref="QueueClient"/>.</summary>
public sealed class QueueClientOptions
{
    /// <summary>Largest body the client lets through before calling; keep it equal to the silo's limit. Default 256 KiB.</summary>
    public int MaxMessageBodyBytes { get; set; } = QueueLimits.DefaultMaxMessageBodyBytes;

    /// <summary>Most messages in one send, receive or peek call, and lock tokens in one complete call. Default 1,000.</summary>
    public int MaxBatchCount { get; set; } = 1000;

    /// <summary>Largest total of bodies in one send call. Default 4 MiB.</summary>
    public long MaxBatchBodyBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>
    /// How many times a send whose outcome is unknown (timeout, silo lost, message rejected, storage failed, queue
    /// busy) is tried in all. Retries reuse the message ids, so the queue stores each message once. Default 3; 1 turns
    /// retries off.
    /// </summary>
    public int SendAttempts { get; set; } = 3;

    /// <summary>Pause before the first retry, doubled for each further one. Default 200 ms.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// Whether concurrent single-message sends to a queue from this client share batch calls (default true). A send
    /// never waits for a timer: it goes out at once unless 4 calls from this client to the queue are already running,
    /// and then it rides with the next one. Each send still gets its own sequence number or error. False: one call per
    /// send.
    /// </summary>
    public bool CoalesceSends { get; set; } = true;
}
