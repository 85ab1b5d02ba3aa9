using OrleansQueue.Storage;

namespace OrleansQueue.Appending;

/// <summary>A message waiting for a group commit, with the id it will be stored under.</summary>
internal readonly record struct PendingMessage(OutgoingMessage Message, string MessageId, long EstimatedBytes, string? DedupKey = null, string? TraceParent = null,
    DateTimeOffset? ExpiresAt = null)
{
    /// <summary>The duplicate-detection key (<see cref="DuplicateIndex.Hash"/>), computed once per send.</summary>
    public UInt128 Key { get; } = DuplicateIndex.Hash(DedupKey ?? MessageId);

    /// <summary>The message as stored under <paramref name="seq"/>, sent at <paramref name="now"/>.</summary>
    public StoredMessage ToStored(long seq, DateTimeOffset now) => new()
    {
        Id = MessageId,
        Seq = seq,
        Body = Message.Body,
        ContentType = Message.ContentType,
        Headers = Message.Headers is { Count: > 0 } h ? new Dictionary<string, string>(h) : null,
        EnqueuedAt = now,
        DedupKey = DedupKey,
        TraceParent = TraceParent,
        CorrelationId = Message.CorrelationId,
        ReplyTo = Message.ReplyTo,
        Subject = Message.Subject,
        ScheduledEnqueueTime = Message.ScheduledEnqueueTime,
        ExpiresAt = ExpiresAt,
        Key = Key,
    };
}
