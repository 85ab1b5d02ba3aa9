namespace OrleansQueue;

/// <summary>A message in the dead-letter grain, with why and how it failed.</summary>
[GenerateSerializer, Immutable, Alias("oq.DeadLetterEntry")]
public sealed record DeadLetterEntry
{
    /// <summary>Position in the dead-letter grain; identifies the entry for delete.</summary>
    [Id(0)] public long EntryId { get; init; }

    /// <summary>The original message (its delivery count is the number of deliveries it had).</summary>
    [Id(1)] public required QueueMessage Message { get; init; }

    /// <summary>The queue it came from.</summary>
    [Id(2)] public required string SourceQueue { get; init; }

    /// <summary>Why it was dead-lettered.</summary>
    [Id(3)] public DeadLetterReason Reason { get; init; }

    /// <summary>What the consumer or the queue said about it.</summary>
    [Id(4)] public string? Description { get; init; }

    /// <summary>The short reason a consumer gave when it dead-lettered the message (<c>QueueClient.DeadLetterAsync</c>, <see cref="IQueueGrain.DeadLetter"/>); null otherwise.</summary>
    [Id(9)] public string? ConsumerReason { get; init; }

    /// <summary>
    /// Full type name of the last exception a handler threw (or listed in a <see cref="DeliveryFailure"/>), if any, cut to
    /// 256 characters; <c>OrleansQueue.HandlerTimedOut</c> when a handler call ran past its
    /// <see cref="ConsumerOptions.MaxAutoLockRenewalDuration"/>.
    /// </summary>
    [Id(5)] public string? LastExceptionType { get; init; }

    /// <summary>Message of that exception (its first 256 characters).</summary>
    [Id(6)] public string? LastExceptionMessage { get; init; }

    /// <summary>
    /// When each delivery attempt started (the most recent ones, at most 10). The queue leaves the attempts and the
    /// exception message out of its stored delivery state when that state outgrows its budget, so after a reload they
    /// may be missing.
    /// </summary>
    [Id(7)] public IReadOnlyList<DateTimeOffset> Attempts { get; init; } = [];

    /// <summary>When it was dead-lettered.</summary>
    [Id(8)] public DateTimeOffset DeadLetteredAt { get; init; }
}
