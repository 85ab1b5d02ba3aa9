namespace OrleansQueue;

/// <summary>A snapshot of a queue's counters.</summary>
[GenerateSerializer, Immutable, Alias("oq.QueueStats")]
public sealed record QueueStats
{
    /// <summary>
    /// Messages a receive can get now, unless <see cref="InFlightLimitReached"/>: not locked, not waiting out a
    /// redelivery delay, not being dead-lettered (a message whose lock ran out counts here, or as delayed when the
    /// redelivery policy delays it).
    /// </summary>
    [Id(0)] public long ReadyCount { get; init; }

    /// <summary>Messages locked for a receiver or a push consumer and not yet settled.</summary>
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

    /// <summary>
    /// Messages that failed a delivery and wait out the queue's redelivery delay before they are ready again (and
    /// messages whose move to the dead-letter grain waits for room among the moves under way).
    /// </summary>
    [Id(8)] public long DelayedCount { get; init; }

    /// <summary>
    /// Whether the queue holds as many messages in flight (locked, delayed or being dead-lettered) as the silo's
    /// <c>MaxMessagesInFlight</c> allows: receives and pushes get nothing until some of them are settled.
    /// </summary>
    [Id(9)] public bool InFlightLimitReached { get; init; }

    /// <summary>Messages dropped to make room for newer ones (<see cref="QueueOverflow.DropOldest"/>).</summary>
    [Id(10)] public long TotalDropped { get; init; }

    /// <summary>Body bytes of the messages the queue holds (those counted against <see cref="QueueSettings.MaxLengthBytes"/>).</summary>
    [Id(11)] public long LengthBytes { get; init; }

    /// <summary>
    /// Messages scheduled for later (<see cref="OutgoingMessage.ScheduledEnqueueTime"/>) and not yet deliverable: not
    /// counted in <see cref="ActiveCount"/>, nor against the queue's length or in-flight limits, until their time.
    /// </summary>
    [Id(12)] public long ScheduledCount { get; init; }

    /// <summary>Messages whose time-to-live ran out and that were dropped (those dead-lettered count in <see cref="TotalDeadLettered"/>).</summary>
    [Id(13)] public long TotalExpired { get; init; }

    /// <summary>Messages in the queue: ready, locked, delayed, or on their way to the dead-letter grain.</summary>
    public long ActiveCount => ReadyCount + LockedCount + DelayedCount + DeadLetteringCount;
}
