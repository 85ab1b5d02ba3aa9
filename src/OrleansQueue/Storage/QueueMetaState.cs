namespace OrleansQueue.Storage;

// What the grain storage provider serializes (JSON by default, or the Orleans serializer). Its name and members are a
// storage format: rename nothing, add members only with defaults.

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
    /// <summary>
    /// The queue is being deleted: every record of it is deleted, this one last. A queue that finds it set when it
    /// loads finishes the deletion before it serves any call.
    /// </summary>
    [Id(15)] public bool Deleting { get; set; }
    /// <summary>Messages dropped to make room for newer ones (<see cref="QueueOverflow.DropOldest"/>).</summary>
    [Id(16)] public long TotalDropped { get; set; }

    /// <summary>Messages whose time-to-live ran out and that were dropped.</summary>
    [Id(21)] public long TotalExpired { get; set; }
    /// <summary>Body bytes of the messages held (not completed, purged, dropped or on their way to the dead-letter grain) below <see cref="LengthBytesBelowSeq"/>.</summary>
    [Id(17)] public long LengthBytes { get; set; }
    /// <summary>
    /// The next sequence number when this record was written: messages from here on were stored after it, and loading
    /// adds their bodies to <see cref="LengthBytes"/> (0 in records written before it existed).
    /// </summary>
    [Id(18)] public long LengthBytesBelowSeq { get; set; }
    /// <summary>
    /// The first sequence number whose body <see cref="LengthBytes"/> counts: a queue stored before byte counting
    /// existed counts the messages sent after it first loaded (0 in records written before it existed).
    /// </summary>
    [Id(19)] public long LengthBytesFromSeq { get; set; }
    /// <summary>
    /// The part of <see cref="LengthBytes"/> held by parked messages (in in-flight pages). Pages are written before
    /// the cursor, so a page may be newer than this record: loading counts parked bodies from the pages instead.
    /// </summary>
    [Id(20)] public long ParkedLengthBytes { get; set; }
}
