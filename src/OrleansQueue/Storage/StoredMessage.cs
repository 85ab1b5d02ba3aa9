namespace OrleansQueue.Storage;

// What the grain storage provider serializes (JSON by default, or the Orleans serializer). Its name and members are a
// storage format: rename nothing, add members only with defaults.

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
    [Id(10)] public string? CorrelationId { get; set; }
    [Id(11)] public string? ReplyTo { get; set; }
    [Id(12)] public string? Subject { get; set; }

    /// <summary>When the message was scheduled to become deliverable; while it waits in the schedule, <see cref="Seq"/> is its scheduled sequence number.</summary>
    [Id(13)] public DateTimeOffset? ScheduledEnqueueTime { get; set; }

    /// <summary>When the message expires (its time-to-live from when it became deliverable); null for never.</summary>
    [Id(14)] public DateTimeOffset? ExpiresAt { get; set; }

    /// <summary>
    /// The duplicate-detection key of a message this activation appended, so it is hashed once per send. Not
    /// stored (internal: neither the Orleans serializer nor the JSON one writes it); null for messages read back.
    /// </summary>
    [NonSerialized]
    internal UInt128? Key;

    long ILogEntry.LogId => Seq;
}
