namespace OrleansQueue;

/// <summary>Why a message was dead-lettered.</summary>
public enum DeadLetterReason
{
    /// <summary>It was delivered the queue's maximum number of times without being completed.</summary>
    MaxDeliveriesExceeded = 1,

    /// <summary>A receiver or consumer dead-lettered it explicitly.</summary>
    RejectedByConsumer = 2,

    /// <summary>The handler threw an exception the queue lists as fail-fast.</summary>
    FailFast = 3,

    /// <summary>The queue was at its maximum length, with <see cref="QueueOverflow.DeadLetterOldest"/>: a newer message took its place.</summary>
    MaxLengthExceeded = 4,

    /// <summary>Its time-to-live ran out before it was delivered, on a queue with <see cref="QueueSettings.DeadLetterOnMessageExpiration"/>.</summary>
    TimeToLiveExpired = 5,
}
