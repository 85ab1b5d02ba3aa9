namespace OrleansQueue;

/// <summary>Why a queue operation was refused.</summary>
public enum QueueErrorCode
{
    /// <summary>The queue name is empty, longer than 120 characters, does not start with a letter or digit, or has a character outside <c>[A-Za-z0-9._-]</c>.</summary>
    InvalidQueueName = 1,

    /// <summary>The message id is empty, longer than 128 characters, or has a character that is not printable ASCII or is one of <c>/ \ # ?</c>.</summary>
    InvalidMessageId = 2,

    /// <summary>The body is larger than the queue's limit.</summary>
    MessageTooLarge = 3,

    /// <summary>The headers are larger than 64 KiB (UTF-8 keys and values), more than 128, or have an empty key, a null value or a control character.</summary>
    InvalidHeaders = 4,

    /// <summary>The batch is empty, has too many messages, is too large in total, or has a null message or body.</summary>
    InvalidBatch = 5,

    /// <summary>A lock duration is outside the allowed range (1 second to the silo's <c>MaxLockDuration</c>).</summary>
    InvalidLockDuration = 6,

    /// <summary>
    /// Another argument is out of range or not allowed: a count, a long poll's wait, a redelivery policy, fail-fast
    /// types, consumer options or a consumer that cannot take them; also a queue's subscription past its 1,000th.
    /// </summary>
    InvalidArgument = 7,

    /// <summary>The lock token is unknown: the lock ran out, the message was settled or purged, or the token is from an earlier delivery.</summary>
    MessageLockLost = 8,

    /// <summary>The content type is longer than 256 characters or has control characters.</summary>
    InvalidContentType = 9,

    /// <summary>
    /// A storage read or write failed (or a write conflicted with another writer) while the call ran, so the queue
    /// reloads its state from storage. The outcome of the call is unknown; retrying it is safe (sends are deduplicated
    /// by message id).
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
    /// A subscription limit is reached: the queue has 1,000 subscribers already, or the cluster's queue registry lists as
    /// many queues with push subscribers as it can (2,500 in one of its 64 shards, about 160,000 in all), so one more
    /// queue cannot take subscribers. Nothing of the call was stored.
    /// </summary>
    QuotaExceeded = 13,

    /// <summary>
    /// A stored record could not be read because it was written with another encoding than the storage provider is
    /// registered with (<c>QueueStorageEncoding</c>, the silo host's <c>Storage:Serializer</c>). Nothing changed; a
    /// retry fails the same way until every silo uses the encoding the records were written in.
    /// </summary>
    StorageEncodingMismatch = 14,

    /// <summary>
    /// <c>Create</c> named a queue that exists already (it holds messages or records, or was configured or created
    /// with other settings). Nothing changed.
    /// </summary>
    QueueAlreadyExists = 15,

    /// <summary>The queue was created with fixed settings (<c>Create</c>): they cannot be changed or reset. Nothing changed.</summary>
    SettingsFixed = 16,
}
