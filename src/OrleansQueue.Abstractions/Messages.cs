namespace OrleansQueue;

/// <summary>A message a producer sends to a queue.</summary>
/// <remarks>
/// The body is not copied: do not change the array after handing it over.
/// Give every message a <see cref="MessageId"/> you can reproduce when you retry a send whose outcome is unknown
/// (a timeout): within the queue's duplicate-detection window a retried id is stored once.
/// When it is <see langword="null"/>, the client handle generates one before the first attempt.
/// </remarks>
[GenerateSerializer, Immutable, Alias("oq.OutgoingMessage")]
public sealed record OutgoingMessage
{
    /// <summary>Creates a message with the given body.</summary>
    public OutgoingMessage(byte[] body) => Body = body ?? throw new ArgumentNullException(nameof(body));

    /// <summary>The message body, at most <see cref="QueueLimits.DefaultMaxMessageBodyBytes"/> bytes by default.</summary>
    [Id(0)] public byte[] Body { get; init; }

    /// <summary>The producer's id of the message: 1 to 128 printable ASCII characters, none of <c>/ \ # ?</c>.</summary>
    [Id(1)] public string? MessageId { get; init; }

    /// <summary>The MIME type of the body, for example <c>application/json</c>; optional.</summary>
    [Id(2)] public string? ContentType { get; init; }

    /// <summary>Application headers: at most 64 KiB of keys and values together (UTF-8).</summary>
    [Id(3)] public IReadOnlyDictionary<string, string>? Headers { get; init; }

    /// <summary>Creates a message whose body is the UTF-8 encoding of <paramref name="text"/>.</summary>
    public static OutgoingMessage FromText(string text, string? messageId = null) =>
        new(System.Text.Encoding.UTF8.GetBytes(text)) { MessageId = messageId, ContentType = "text/plain; charset=utf-8" };
}

/// <summary>A message as stored in a queue.</summary>
[GenerateSerializer, Immutable, Alias("oq.QueueMessage")]
public sealed record QueueMessage
{
    /// <summary>The producer's id of the message (generated when the producer gave none).</summary>
    [Id(0)] public required string MessageId { get; init; }

    /// <summary>The queue-assigned sequence number: 1 for the first message ever enqueued, then strictly increasing.</summary>
    [Id(1)] public required long SequenceNumber { get; init; }

    /// <summary>The message body. Do not change the array.</summary>
    [Id(2)] public required byte[] Body { get; init; }

    /// <summary>The MIME type of the body, if the producer gave one.</summary>
    [Id(3)] public string? ContentType { get; init; }

    /// <summary>Application headers, if any.</summary>
    [Id(4)] public IReadOnlyDictionary<string, string>? Headers { get; init; }

    /// <summary>When the queue stored the message.</summary>
    [Id(5)] public required DateTimeOffset EnqueuedTime { get; init; }

    /// <summary>How many times the message has been delivered, counting this delivery (0 for a message peeked before its first delivery).</summary>
    [Id(6)] public int DeliveryCount { get; init; }

    /// <summary>The body decoded as UTF-8 text.</summary>
    public string BodyAsString() => System.Text.Encoding.UTF8.GetString(Body);
}

/// <summary>A message leased to one receiver until <see cref="LockedUntil"/>.</summary>
/// <remarks>Settle it with <see cref="LockToken"/>: complete, abandon, or renew the lock.</remarks>
[GenerateSerializer, Immutable, Alias("oq.ReceivedMessage")]
public sealed record ReceivedMessage
{
    /// <summary>The message.</summary>
    [Id(0)] public required QueueMessage Message { get; init; }

    /// <summary>Identifies this delivery of the message; a token from an earlier delivery is rejected.</summary>
    [Id(1)] public required Guid LockToken { get; init; }

    /// <summary>When the lease ends unless renewed; then the message is delivered again.</summary>
    [Id(2)] public required DateTimeOffset LockedUntil { get; init; }
}

/// <summary>A snapshot of a queue's counters.</summary>
[GenerateSerializer, Immutable, Alias("oq.QueueStats")]
public sealed record QueueStats
{
    /// <summary>
    /// Messages a receive can get now (including messages whose lock expired), unless
    /// <see cref="InFlightLimitReached"/>: not locked, not waiting out a redelivery delay, not being dead-lettered.
    /// </summary>
    [Id(0)] public long ReadyCount { get; init; }

    /// <summary>Messages leased to a receiver and not yet settled.</summary>
    [Id(1)] public long LockedCount { get; init; }

    /// <summary>Messages ever enqueued (confirmed) into this queue.</summary>
    [Id(2)] public long TotalEnqueued { get; init; }

    /// <summary>Messages ever completed.</summary>
    [Id(3)] public long TotalCompleted { get; init; }

    /// <summary>Messages removed by <see cref="IQueueGrain.Purge"/>.</summary>
    [Id(4)] public long TotalPurged { get; init; }

    /// <summary>Age of the oldest message not yet completed, or <see langword="null"/> when the queue is empty.</summary>
    [Id(5)] public TimeSpan? OldestMessageAge { get; init; }

    /// <summary>Messages moved to the dead-letter grain.</summary>
    [Id(6)] public long TotalDeadLettered { get; init; }

    /// <summary>Messages on their way to the dead-letter grain (the move is stored and finishes even after a crash).</summary>
    [Id(7)] public long DeadLetteringCount { get; init; }

    /// <summary>Messages that failed a delivery and wait out the queue's redelivery delay before they are ready again.</summary>
    [Id(8)] public long DelayedCount { get; init; }

    /// <summary>
    /// Whether the queue holds as many messages in flight (locked, delayed or being dead-lettered) as the silo's
    /// <c>MaxMessagesInFlight</c> allows: receives and pushes get nothing until some of them are settled.
    /// </summary>
    [Id(9)] public bool InFlightLimitReached { get; init; }

    /// <summary>Messages in the queue: ready, leased, delayed, or on their way to the dead-letter grain.</summary>
    public long ActiveCount => ReadyCount + LockedCount + DelayedCount + DeadLetteringCount;
}
