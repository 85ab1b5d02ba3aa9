namespace OrleansQueue.Storage;

// These types are what the grain storage provider serializes (JSON by default, or the Orleans serializer).
// Their names and members are a storage format: rename nothing, add members only with defaults.

/// <summary>One message as stored in a segment.</summary>
[GenerateSerializer, Alias("oq.StoredMessage")]
internal sealed class StoredMessage : ILogEntry
{
    [Id(0)] public string Id { get; set; } = "";
    [Id(1)] public long Seq { get; set; }
    [Id(2)] public byte[] Body { get; set; } = [];
    [Id(3)] public string? ContentType { get; set; }
    [Id(4)] public Dictionary<string, string>? Headers { get; set; }
    [Id(5)] public DateTimeOffset EnqueuedAt { get; set; }
    /// <summary>The duplicate-detection key when it is not the message id (a redriven message).</summary>
    [Id(6)] public string? DedupKey { get; set; }
    /// <summary>
    /// Set when the message was leased to a push consumer in the same write that stored it: the token and end of
    /// that first lease. It stands for the message's delivery record until the cursor record holds one.
    /// </summary>
    [Id(7)] public Guid? FirstLeaseToken { get; set; }
    [Id(8)] public DateTimeOffset? FirstLeasedUntil { get; set; }
    /// <summary>
    /// The W3C trace context (<c>traceparent</c>) of the send that stored the message, when it was traced: each
    /// delivery's and the dead-lettering's activity links to it.
    /// </summary>
    [Id(9)] public string? TraceParent { get; set; }

    /// <summary>
    /// The duplicate-detection key of a message this activation appended, so it is hashed once per send. Not
    /// stored (internal: neither the Orleans serializer nor the JSON one writes it); null for messages read back.
    /// </summary>
    [NonSerialized]
    internal UInt128? Key;

    long ILogEntry.LogId => Seq;
}

/// <summary>
/// A bounded run of consecutive messages: one chunk record of a segment of the queue's
/// <see cref="SegmentedLog{TSegment, TEntry}"/> (<see cref="StateNames.SegmentChunk"/>), or the whole segment read
/// back. A segment's chunks follow each other: each starts at the sequence number after the previous one's last message.
/// </summary>
[GenerateSerializer, Alias("oq.SegmentState")]
internal sealed class SegmentState : ILogSegment<StoredMessage>
{
    [Id(0)] public long FirstSequence { get; set; }
    [Id(1)] public List<StoredMessage> Messages { get; set; } = [];

    long ILogSegment<StoredMessage>.FirstId { get => FirstSequence; set => FirstSequence = value; }

    List<StoredMessage> ILogSegment<StoredMessage>.Entries { get => Messages; set => Messages = value; }

    /// <summary>
    /// Not stored: a queue's sequence numbers follow each other without holes and its segments lose messages only
    /// whole, so the highest one a segment held is its last message's (or the one before its first, when empty).
    /// </summary>
    long ILogSegment<StoredMessage>.LastAssignedId
    {
        get => Messages.Count > 0 ? Messages[^1].Seq : FirstSequence - 1;
        set { }
    }
}

/// <summary>Delivery state of one message in the active window that has been delivered at least once.</summary>
[GenerateSerializer, Alias("oq.DeliveryRecord")]
internal sealed class DeliveryRecord
{
    [Id(0)] public long Seq { get; set; }
    [Id(1)] public int Count { get; set; }
    /// <summary>The open lease's token, or null when the message is ready again.</summary>
    [Id(2)] public Guid? Token { get; set; }
    [Id(3)] public DateTimeOffset? LockedUntil { get; set; }
    /// <summary>A failed message is not delivered again before this time (redelivery policy).</summary>
    [Id(4)] public DateTimeOffset? NotBefore { get; set; }
    /// <summary>Start of the most recent delivery attempts, Unix milliseconds.</summary>
    [Id(5)] public List<long>? Attempts { get; set; }
    [Id(6)] public string? ErrorType { get; set; }
    [Id(7)] public string? ErrorMessage { get; set; }
    /// <summary>
    /// A decided move to the dead-letter grain waiting for room (the queue's pending moves are at their maximum): it
    /// starts when <see cref="NotBefore"/> comes or room frees up. Null in records written before it existed.
    /// </summary>
    [Id(8)] public DeadLetterReason? DeferredMove { get; set; }
    [Id(9)] public string? DeferredDescription { get; set; }
}

/// <summary>A move to the dead-letter grain in progress: stored before the move, removed after it.</summary>
[GenerateSerializer, Alias("oq.MoveRecord")]
internal sealed class MoveRecord
{
    [Id(0)] public long Seq { get; set; }
    /// <summary>Makes the move idempotent: the dead-letter grain stores one entry per move id.</summary>
    [Id(1)] public Guid MoveId { get; set; }
    [Id(2)] public DeadLetterReason Reason { get; set; }
    [Id(3)] public string? Description { get; set; }
    [Id(4)] public DateTimeOffset At { get; set; }
}

/// <summary>A consumer subscribed to the queue.</summary>
[GenerateSerializer, Alias("oq.SubscriptionRecord")]
internal sealed class SubscriptionRecord
{
    /// <summary>The consumer's <c>GrainId</c> (a grain, or an observer in an Orleans client).</summary>
    [Id(0)] public string Consumer { get; set; } = "";
    [Id(1)] public int Prefetch { get; set; }
    [Id(2)] public bool AutoComplete { get; set; }
    /// <summary>Client observers must renew their subscription before this time; grains need not (null).</summary>
    [Id(3)] public DateTimeOffset? ExpiresAt { get; set; }
    /// <summary>Most deliveries per push call; 0 (records written before batches existed) means 1.</summary>
    [Id(4)] public int MaxBatchSize { get; set; }
    /// <summary>Most push calls at once; 0 (records written before the option existed) means 1.</summary>
    [Id(5)] public int MaxConcurrentCalls { get; set; }
    /// <summary>Longest a push call may run; null (records written before the option existed) means the default.</summary>
    [Id(6)] public TimeSpan? MaxAutoLockRenewalDuration { get; set; }
}

/// <summary>Per-queue settings; null members keep the silo's defaults.</summary>
[GenerateSerializer, Alias("oq.QueueSettingsState")]
internal sealed class QueueSettingsState
{
    /// <summary>The queue's lock duration (the stored name predates the word).</summary>
    [Id(0)] public TimeSpan? AckDeadline { get; set; }
    [Id(1)] public int? MaxDeliveryCount { get; set; }
    [Id(2)] public RedeliveryMode? RedeliveryMode { get; set; }
    [Id(3)] public TimeSpan? RedeliveryDelay { get; set; }
    [Id(4)] public TimeSpan? RedeliveryMaxDelay { get; set; }
    [Id(5)] public double? RedeliveryJitter { get; set; }
    [Id(6)] public List<string>? FailFastExceptionTypes { get; set; }
}

/// <summary>The queue's cursor record, state name <c>oq-meta</c>: small and bounded by the active window.</summary>
[GenerateSerializer, Alias("oq.QueueMetaState")]
internal sealed class QueueMetaState
{
    /// <summary>First segment with a message not completed (or the tail).</summary>
    [Id(0)] public long HeadSegment { get; set; }
    /// <summary>Newest segment known when this record was written; newer ones are found by probing.</summary>
    [Id(1)] public long TailSegment { get; set; }
    /// <summary>First segment not yet deleted; segments from here to the head are kept for duplicate detection.</summary>
    [Id(2)] public long RetainedFrom { get; set; }
    /// <summary>
    /// Every message with a lower sequence number is completed, purged, or parked in an in-flight page
    /// (<see cref="InFlightPagesFrom"/>).
    /// </summary>
    [Id(3)] public long AckedBelow { get; set; } = 1;
    /// <summary>Completed sequence numbers at or above <see cref="AckedBelow"/>, ascending.</summary>
    [Id(4)] public List<long> Completed { get; set; } = [];
    [Id(5)] public List<DeliveryRecord> Deliveries { get; set; } = [];
    [Id(6)] public long TotalCompleted { get; set; }
    [Id(7)] public long TotalPurged { get; set; }
    [Id(8)] public long TotalDeadLettered { get; set; }
    [Id(9)] public List<MoveRecord> PendingMoves { get; set; } = [];
    [Id(10)] public List<SubscriptionRecord> Subscriptions { get; set; } = [];
    [Id(11)] public QueueSettingsState? Settings { get; set; }
    /// <summary>
    /// The first in-flight page not yet deleted (<see cref="StateNames.InFlightPage"/>): pages from here up to
    /// <see cref="InFlightPagesTo"/> hold the messages parked below the head (pages in between may be deleted).
    /// </summary>
    [Id(12)] public long InFlightPagesFrom { get; set; }
    /// <summary>The id after the last in-flight page known when this record was written; newer ones are found by probing.</summary>
    [Id(13)] public long InFlightPagesTo { get; set; }
    /// <summary>
    /// What the queue registry was last told about this queue (0 in records written before the registry: not listed).
    /// </summary>
    [Id(14)] public RegistryListing Listing { get; set; }
}

/// <summary>What a queue told the queue registry about itself.</summary>
internal enum RegistryListing
{
    NotListed = 0,

    /// <summary>Listed as a queue with push subscribers: silos wake it when they start or see another die.</summary>
    WithSubscribers = 1,
}

/// <summary>
/// A message in flight (locked, waiting out a redelivery delay, or on its way to the dead-letter grain) that the
/// delivery window moved past: a copy of the message with its delivery state, so its segment can be deleted.
/// </summary>
[GenerateSerializer, Alias("oq.ParkedMessage")]
internal sealed class ParkedMessage
{
    [Id(0)] public StoredMessage Message { get; set; } = new();
    [Id(1)] public DeliveryRecord Delivery { get; set; } = new();
}

/// <summary>
/// A bounded record of parked in-flight messages, <c>oq-inflight-{n}</c>. Only entries below the cursor's
/// <see cref="QueueMetaState.AckedBelow"/> count: a page written before a cursor write that never happened may hold
/// copies of messages that are still in the window, and those are ignored.
/// </summary>
[GenerateSerializer, Alias("oq.InFlightPage")]
internal sealed class InFlightPageState
{
    [Id(0)] public List<ParkedMessage> Entries { get; set; } = [];
}

/// <summary>One entry of the dead-letter grain as stored.</summary>
[GenerateSerializer, Alias("oq.StoredDeadLetter")]
internal sealed class StoredDeadLetter : ILogEntry
{
    [Id(0)] public long EntryId { get; set; }
    [Id(1)] public StoredMessage Message { get; set; } = new();
    [Id(2)] public int DeliveryCount { get; set; }
    [Id(3)] public string SourceQueue { get; set; } = "";
    [Id(4)] public DeadLetterReason Reason { get; set; }
    [Id(5)] public string? Description { get; set; }
    [Id(6)] public string? ErrorType { get; set; }
    [Id(7)] public string? ErrorMessage { get; set; }
    [Id(8)] public List<long> Attempts { get; set; } = [];
    [Id(9)] public DateTimeOffset At { get; set; }
    [Id(10)] public Guid MoveId { get; set; }

    long ILogEntry.LogId => EntryId;
}

/// <summary>A bounded run of dead-letter entries in id order (deleted entries leave holes): <c>oq-dl-seg-{n}</c>.</summary>
[GenerateSerializer, Alias("oq.DeadLetterSegment")]
internal sealed class DeadLetterSegment : ILogSegment<StoredDeadLetter>
{
    [Id(0)] public long FirstEntryId { get; set; }
    [Id(1)] public List<StoredDeadLetter> Entries { get; set; } = [];
    /// <summary>
    /// The highest entry id this segment ever held, kept when its entries are deleted, so an emptied tail does not
    /// hand its ids out again; 0 in records written before it existed.
    /// </summary>
    [Id(2)] public long LastEntryId { get; set; }

    long ILogSegment<StoredDeadLetter>.FirstId { get => FirstEntryId; set => FirstEntryId = value; }

    long ILogSegment<StoredDeadLetter>.LastAssignedId { get => LastEntryId; set => LastEntryId = value; }
}

/// <summary>The dead-letter grain's cursor: <c>oq-dl-meta</c>.</summary>
[GenerateSerializer, Alias("oq.DeadLetterMeta")]
internal sealed class DeadLetterMeta
{
    [Id(0)] public long HeadSegment { get; set; }
    [Id(1)] public long TailSegment { get; set; }
    /// <summary>Counts include every entry with an id up to here; newer ones are counted when found.</summary>
    [Id(2)] public long CountedThrough { get; set; }
    [Id(3)] public Dictionary<DeadLetterReason, long> CountByReason { get; set; } = [];
    [Id(4)] public Dictionary<string, long> CountBySourceQueue { get; set; } = [];
    /// <summary>Deletions recorded (and counted) but perhaps not yet applied to the segments.</summary>
    [Id(5)] public List<long> PendingDeletes { get; set; } = [];
    /// <summary>
    /// The id the next entry gets, as of this record (entries added since are found past <see cref="TailSegment"/>);
    /// ids are never handed out twice. 0 in records written before it existed.
    /// </summary>
    [Id(6)] public long NextEntryId { get; set; }
}

/// <summary>A queue as the registry lists it.</summary>
[GenerateSerializer, Alias("oq.QueueRegistration")]
internal sealed class QueueRegistration
{
    /// <summary>When the registry first listed the queue (this time).</summary>
    [Id(0)] public DateTimeOffset ListedAt { get; set; }
    /// <summary>Whether the queue has push subscribers: a silo that starts, or sees another die, wakes it.</summary>
    [Id(1)] public bool HasSubscribers { get; set; }
}

/// <summary>The record of one queue registry shard, state name <c>oq-registry</c>: at most <c>QueueRegistry.MaxQueuesPerShard</c> queues.</summary>
[GenerateSerializer, Alias("oq.QueueRegistryState")]
internal sealed class QueueRegistryState
{
    [Id(0)] public Dictionary<string, QueueRegistration> Queues { get; set; } = [];
}

/// <summary>Names of the storage records of one queue.</summary>
internal static class StateNames
{
    public const string Meta = "oq-meta";

    public const string DeadLetterMeta = "oq-dl-meta";

    /// <summary>The record of a queue registry shard.</summary>
    public const string Registry = "oq-registry";

    /// <summary>
    /// Chunk <paramref name="chunk"/> of segment <paramref name="id"/>: the first chunk is the segment's own record
    /// (<c>oq-seg-{n}</c>, as segments were stored before chunks), later ones <c>oq-seg-{n}-c{k}</c>.
    /// </summary>
    public static string SegmentChunk(long id, int chunk) => chunk == 0 ? $"oq-seg-{id}" : $"oq-seg-{id}-c{chunk}";

    public static string DeadLetterSegment(long id) => $"oq-dl-seg-{id}";

    /// <summary>Page <paramref name="id"/> of a queue's parked in-flight messages.</summary>
    public static string InFlightPage(long id) => $"oq-inflight-{id}";
}
