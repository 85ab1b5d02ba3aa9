namespace OrleansQueue.Storage;

// These types are what the grain storage provider serializes (JSON by default, or the Orleans serializer).
// Their names and members are a storage format: rename nothing, add members only with defaults.

/// <summary>One message as stored in a segment.</summary>
[GenerateSerializer, Alias("oq.StoredMessage")]
internal sealed class StoredMessage
{
    [Id(0)] public string Id { get; set; } = "";
    [Id(1)] public long Seq { get; set; }
    [Id(2)] public byte[] Body { get; set; } = [];
    [Id(3)] public string? ContentType { get; set; }
    [Id(4)] public Dictionary<string, string>? Headers { get; set; }
    [Id(5)] public DateTimeOffset EnqueuedAt { get; set; }
}

/// <summary>A bounded run of consecutive messages: one storage record, state name <c>oq-seg-{n}</c>.</summary>
[GenerateSerializer, Alias("oq.SegmentState")]
internal sealed class SegmentState
{
    [Id(0)] public long FirstSequence { get; set; }
    [Id(1)] public List<StoredMessage> Messages { get; set; } = [];
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
    /// <summary>Every message with a lower sequence number is completed or purged.</summary>
    [Id(3)] public long AckedBelow { get; set; } = 1;
    /// <summary>Completed sequence numbers at or above <see cref="AckedBelow"/>, ascending.</summary>
    [Id(4)] public List<long> Completed { get; set; } = [];
    [Id(5)] public List<DeliveryRecord> Deliveries { get; set; } = [];
    [Id(6)] public long TotalCompleted { get; set; }
    [Id(7)] public long TotalPurged { get; set; }
}

/// <summary>Names of the storage records of one queue.</summary>
internal static class StateNames
{
    public const string Meta = "oq-meta";

    public static string Segment(long id) => $"oq-seg-{id}";
}
