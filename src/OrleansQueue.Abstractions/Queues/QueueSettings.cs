namespace OrleansQueue;

/// <summary>
/// The settings of one queue. In <see cref="IQueueGrain.Configure"/> a <see langword="null"/> member leaves that
/// setting as it is (a queue never configured follows the silo's defaults; <see cref="IQueueGrain.ResetSettings"/>
/// returns to them); <see cref="IQueueGrain.GetSettings"/> fills every member with the effective value.
/// </summary>
[GenerateSerializer, Immutable, Alias("oq.QueueSettings")]
public sealed record QueueSettings
{
    /// <summary>
    /// How long a delivery may stay unsettled before its lock runs out and it counts as failed (the lock duration of
    /// pushes and of receives that name none). 1 s to the silo's <c>MaxLockDuration</c> (12 h by default); else
    /// <see cref="QueueErrorCode.InvalidLockDuration"/>.
    /// </summary>
    [Id(0)] public TimeSpan? LockDuration { get; init; }

    /// <summary>Deliveries after which a message that still fails moves to the dead-letter grain. 1 to 1,000; else <see cref="QueueErrorCode.InvalidArgument"/>.</summary>
    [Id(1)] public int? MaxDeliveryCount { get; init; }

    /// <summary>When a failed message is delivered again.</summary>
    [Id(2)] public RedeliveryPolicy? Redelivery { get; init; }

    /// <summary>
    /// Full names of exception types that will never succeed: a handler throwing one dead-letters the message at once
    /// (the name must match exactly; derived types do not match). At most 100 names of at most 512 characters; else
    /// <see cref="QueueErrorCode.InvalidArgument"/>.
    /// </summary>
    [Id(3)] public IReadOnlyList<string>? FailFastExceptionTypes { get; init; }

    /// <summary>
    /// How long the queue remembers a message id: a send whose id was stored within this window is not stored again
    /// (its earlier sequence number is returned). <see cref="TimeSpan.Zero"/> turns duplicate detection off for the
    /// queue. 0, or 1 s to <see cref="QueueLimits.MaxDuplicateDetectionWindow"/>; else
    /// <see cref="QueueErrorCode.InvalidArgument"/>. Either way at most the silo's <c>DuplicateDetectionMaxIds</c> ids
    /// are remembered. A longer window applies to ids remembered from then on; a shorter one forgets older ids at once.
    /// </summary>
    [Id(4)] public TimeSpan? DuplicateDetectionWindow { get; init; }

    /// <summary>
    /// Most messages the queue holds (ready, locked, waiting out a redelivery delay; not those on their way to the
    /// dead-letter grain); past it <see cref="Overflow"/> decides. 1 to the silo's <c>MaxQueueLength</c> (its default);
    /// else <see cref="QueueErrorCode.InvalidArgument"/>. Lowering it does not remove messages already stored: sends
    /// are refused, or drop, until the queue is below it.
    /// </summary>
    [Id(5)] public long? MaxLength { get; init; }

    /// <summary>What a send past <see cref="MaxLength"/> or <see cref="MaxLengthBytes"/> does; <see cref="QueueOverflow.RejectNew"/> by default.</summary>
    [Id(6)] public QueueOverflow? Overflow { get; init; }

    /// <summary>
    /// Most body bytes the messages counted in the length may hold together (RabbitMQ's <c>x-max-length-bytes</c>);
    /// past it <see cref="Overflow"/> decides. 0 (the default) for no limit; negative values get
    /// <see cref="QueueErrorCode.InvalidArgument"/>. A queue stored by a build that did not count bytes counts the
    /// bodies of the messages sent after it first loads; its older messages do not count.
    /// </summary>
    [Id(7)] public long? MaxLengthBytes { get; init; }

    /// <summary>
    /// The time-to-live of the queue's messages (Service Bus's default message time-to-live, RabbitMQ's
    /// <c>x-message-ttl</c>): a message's own <see cref="OutgoingMessage.TimeToLive"/> applies when it is shorter.
    /// Stamped on each message when it is sent: a change applies to messages sent afterwards. <see cref="TimeSpan.Zero"/>
    /// (the default) for none; else 1 ms to <see cref="QueueLimits.MaxTimeToLive"/>, or <see cref="QueueErrorCode.InvalidArgument"/>.
    /// </summary>
    [Id(8)] public TimeSpan? DefaultMessageTimeToLive { get; init; }

    /// <summary>
    /// Whether expired messages move to the dead-letter grain (reason <see cref="DeadLetterReason.TimeToLiveExpired"/>)
    /// rather than being dropped. <see langword="false"/> by default.
    /// </summary>
    [Id(9)] public bool? DeadLetterOnMessageExpiration { get; init; }
}
