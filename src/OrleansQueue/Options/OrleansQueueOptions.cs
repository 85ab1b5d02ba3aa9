namespace OrleansQueue.Options;

/// <summary>Options of the queues hosted by a silo; bind them from configuration section <c>OrleansQueue</c> or set them in code.</summary>
public sealed class OrleansQueueOptions
{
    /// <summary>The configuration section the silo host binds.</summary>
    public const string SectionName = "OrleansQueue";

    /// <summary>Default name of the Orleans grain storage provider that holds queue data.</summary>
    public const string DefaultStorageName = "queues";

    /// <summary>
    /// Name of the Orleans grain storage provider (Azure Table, Azure Blob, memory, ...) that holds queue data.
    /// Default <c>queues</c>. With Azure Table or Blob storage, register it with <c>AddOrleansQueueAzureTableStorage</c> or
    /// <c>AddOrleansQueueAzureBlobStorage</c> (OrleansQueue.AzureStorage): they set <c>DeleteStateOnClear</c>, so that
    /// completed segments are deleted rather than blanked, and one encoding for every silo that shares the storage.
    /// </summary>
    public string StorageName { get; set; } = DefaultStorageName;

    /// <summary>
    /// Messages per storage segment: a segment that holds this many takes no more. A group commit that is already
    /// writing a segment may fill it to twice this many (within <see cref="SegmentMaxBytes"/>), so a commit that
    /// crosses the count needs no second write. Default 128; 1 to 1,024 (the newest segment is never parked, so the
    /// delivery state of all its messages, locked at once, must fit the cursor record), and
    /// <see cref="ActiveSegments"/> × this at most 16,384.
    /// </summary>
    public int SegmentMaxMessages { get; set; } = 128;

    /// <summary>
    /// Largest estimated serialized size of one segment, in bytes (bodies counted as base64). Default 640 KiB;
    /// at most 900 KiB so a segment fits one Azure Table entity, and at least enough for one largest message.
    /// </summary>
    public int SegmentMaxBytes { get; set; } = 640 * 1024;

    /// <summary>
    /// A segment is stored as chunk records: an append rewrites the segment's last chunk while it holds fewer than
    /// this many messages (and less than the same share of <see cref="SegmentMaxBytes"/>), and starts a new chunk
    /// after that, so a send rewrites at most this many earlier messages, not the whole segment. Default 16;
    /// 1 to 10,000 (at or above <see cref="SegmentMaxMessages"/>, each segment is one record).
    /// </summary>
    public int SegmentChunkMessages { get; set; } = 16;

    /// <summary>
    /// How many segments from the head of a queue are kept in memory for delivery. Messages further back wait in
    /// storage. Bounds memory and the size of the stored delivery state. Default 16; 1 to 1,024, and this ×
    /// <see cref="SegmentMaxMessages"/> at most 16,384.
    /// </summary>
    public int ActiveSegments { get; set; } = 16;

    /// <summary>
    /// Segments of large messages hold few of them: beyond <see cref="ActiveSegments"/> segments, the delivery window
    /// takes more while it holds fewer messages than <see cref="ActiveSegments"/> full segments and fewer than this
    /// many bytes (estimated as for <see cref="SegmentMaxBytes"/>), so that a consumer's prefetch of large messages is
    /// delivered from memory instead of being parked and read back. It fills only as far as consumers ask. Default
    /// 128 MiB (a prefetch of 1,000 messages of 64 KiB); 0 (never more than <see cref="ActiveSegments"/> segments)
    /// to 16 GiB.
    /// </summary>
    public long DeliveryWindowMaxBytes { get; set; } = 128L * 1024 * 1024;

    /// <summary>
    /// Most messages a queue holds (ready, locked, delayed, or on their way to the dead-letter grain); a send that would go
    /// past it is refused with <see cref="QueueErrorCode.QueueFull"/> and stores nothing. Default 10,000,000; 1 to
    /// 1,000,000,000.
    /// </summary>
    public long MaxQueueLength { get; set; } = 10_000_000;

    /// <summary>
    /// Most messages in flight per queue: locked (received or pushed and not yet settled), waiting out a redelivery
    /// delay, or on their way to the dead-letter grain. At the limit, receives and pushes get nothing until some of
    /// them are settled (the stats' <c>InFlightLimitReached</c> and the metric <c>orleansqueue.queue.in_flight</c>
    /// show it); nothing is lost. In-flight messages the delivery window has moved past are kept in in-flight pages of
    /// their own. Default 100,000 (SQS allows 120,000); 1 to 1,000,000.
    /// </summary>
    public int MaxMessagesInFlight { get; set; } = 100_000;

    /// <summary>
    /// Most bytes per queue of messages waiting for their storage write (sends staged for the next group commit), by
    /// their estimated stored size (bodies counted as base64, plus ids, headers and per-message overhead). A send that would go
    /// past it while others wait is refused with <see cref="QueueErrorCode.ServerBusy"/> and stores nothing (the
    /// client retries it), so senders faster than storage cannot fill the silo's memory. Default 64 MiB; at least
    /// <see cref="MaxBatchBodyBytes"/>, at most 1 GiB.
    /// </summary>
    public long MaxStagedBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>Largest message body in bytes. Default 256 KiB; 1 byte to 256 KiB.</summary>
    public int MaxMessageBodyBytes { get; set; } = QueueLimits.DefaultMaxMessageBodyBytes;

    /// <summary>Most messages in one enqueue, receive or peek call, and lock tokens in one complete call. Default 1,000; 1 to 10,000.</summary>
    public int MaxBatchCount { get; set; } = 1000;

    /// <summary>Largest total of bodies in one enqueue call. Default 4 MiB; at least <see cref="MaxMessageBodyBytes"/>, at most 64 MiB.</summary>
    public long MaxBatchBodyBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>
    /// Most messages written in one group commit: concurrent enqueues are coalesced into one storage write up to this
    /// count (and <see cref="SegmentMaxBytes"/> per segment). Default 1,000; 1 to 10,000.
    /// </summary>
    public int GroupCommitMaxMessages { get; set; } = 1000;

    /// <summary>
    /// How long a cursor write that no caller waits on (completions of pushed messages, the tail hint after a new
    /// segment, lock renewals, expiries, deletions) waits before it starts when no cursor write is running, so that
    /// such changes made meanwhile share it (changes made during a running write share the write that follows it); a
    /// change a caller waits on (a lock before a push, a receive, a settle call) starts the write at once. Longer means
    /// fewer storage writes, which share the storage with the writes that store messages, and a longer window in which a
    /// crash redelivers messages already completed (delivery is at least once either way). Default 250 ms; 0 to 5 seconds.
    /// </summary>
    public TimeSpan CursorWriteDelay { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// The lock duration of pushed deliveries and of receives that name none (a queue's settings may
    /// override it). Default 30 seconds; 1 second to <see cref="MaxLockDuration"/>.
    /// </summary>
    public TimeSpan DefaultLockDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Deliveries after which a message that still fails moves to the dead-letter grain (a queue's settings may
    /// override it). Default 10; 1 to 1,000.
    /// </summary>
    public int MaxDeliveryCount { get; set; } = 10;

    /// <summary>
    /// Longest lock duration a receive, a lock renewal or a queue's settings may ask for. Default 12 hours; 1 second to
    /// 12 hours.
    /// </summary>
    public TimeSpan MaxLockDuration { get; set; } = QueueLimits.MaxLockDuration;

    /// <summary>
    /// How long a message id is remembered: a message with the same id sent again within this window is not stored
    /// twice. Default 10 minutes (as Service Bus); zero turns duplicate detection off; at most 7 days.
    /// </summary>
    public TimeSpan DuplicateDetectionWindow { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Most message ids remembered per queue for duplicate detection, which bounds its memory: at higher rates the
    /// window is shortened to the newest ids. Default 200,000; 1 to 10,000,000.
    /// </summary>
    public int DuplicateDetectionMaxIds { get; set; } = 200_000;

    /// <summary>
    /// Consumers to subscribe when a silo starts (idempotent, so every silo may do it). Each names a queue and a
    /// consumer grain by its grain id, <c>type/key</c> (for example <c>worker/worker-1</c> for a class WorkerGrain).
    /// </summary>
    public List<ConsumerSubscriptionOptions> Subscriptions { get; set; } = [];

    /// <summary>Options of the dead-letter grain (its segments, and how much one call reads).</summary>
    public DeadLetterOptions DeadLetters { get; set; } = new();
}

/// <summary>A subscription made from configuration.</summary>
public sealed class ConsumerSubscriptionOptions
{
    /// <summary>The queue name.</summary>
    public string Queue { get; set; } = "";

    /// <summary>The consumer grain's id, <c>type/key</c>; the grain implements <see cref="IQueueConsumer"/>.</summary>
    public string Consumer { get; set; } = "";

    /// <summary>Most unsettled deliveries the consumer holds at once. Default 10; 1 to 1,000.</summary>
    public int Prefetch { get; set; } = 10;

    /// <summary>Settle from the handler's outcome (default), or leave settlement to the consumer.</summary>
    public bool AutoComplete { get; set; } = true;

    /// <summary>Most calls to the consumer at once. Default 1 (a plain grain handles one call at a time); 1 to 1,000.</summary>
    public int MaxConcurrentCalls { get; set; } = 1;

    /// <summary>Longest a handler call may run before its delivery counts as failed. Default 30 minutes; 1 second to 12 hours.</summary>
    public TimeSpan MaxAutoLockRenewalDuration { get; set; } = ConsumerOptions.DefaultMaxAutoLockRenewalDuration;
}
