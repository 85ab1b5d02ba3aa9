namespace OrleansQueue;

/// <summary>Why a queue operation was refused.</summary>
public enum QueueErrorCode
{
    /// <summary>The queue name is empty, too long, or has a character outside <c>[A-Za-z0-9._-]</c>.</summary>
    InvalidQueueName = 1,

    /// <summary>The message id is empty, longer than 128 characters, or has a character that is not printable ASCII or is one of <c>/ \ # ?</c>.</summary>
    InvalidMessageId = 2,

    /// <summary>The body is larger than the queue's limit.</summary>
    MessageTooLarge = 3,

    /// <summary>The headers are larger than 64 KiB, more than 128, have an empty key, or have a control character.</summary>
    InvalidHeaders = 4,

    /// <summary>The batch is empty, has too many messages, or is too large in total.</summary>
    InvalidBatch = 5,

    /// <summary>A lease duration is outside the allowed range.</summary>
    InvalidLockDuration = 6,

    /// <summary>A count or position argument is out of range.</summary>
    InvalidArgument = 7,

    /// <summary>The lock token is unknown: the lease expired, the message was settled, or the token is from an earlier delivery.</summary>
    MessageLockLost = 8,

    /// <summary>The content type is longer than 256 characters or has control characters.</summary>
    InvalidContentType = 9,

    /// <summary>
    /// A storage write failed (or conflicted with another writer) while the call ran, so the queue reloads its state
    /// from storage. The outcome of the call is unknown; retrying it is safe (sends are deduplicated by message id).
    /// </summary>
    StorageFailed = 10,

    /// <summary>The queue holds its maximum number of messages (<c>MaxQueueLength</c>); nothing of the call was stored.</summary>
    QueueFull = 11,

    /// <summary>
    /// The queue has as many bytes of sends waiting for their storage write as the silo allows (<c>MaxStagedBytes</c>):
    /// storage is slower than the senders. Nothing of the call was stored; retrying after a moment is safe.
    /// </summary>
    ServerBusy = 12,

    /// <summary>
    /// A cluster-wide limit is reached: the queue registry lists as many queues with push subscribers as it can (2,500
    /// in one of its 64 shards, about 160,000 in all), so one more queue cannot take subscribers. Nothing of the call
    /// was stored.
    /// </summary>
    QuotaExceeded = 13,
}
