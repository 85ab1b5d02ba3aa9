using OrleansQueue.Storage;

namespace OrleansQueue.Delivery;

/// <summary>What callers see of a stored message.</summary>
internal static class MessageViews
{
    public static QueueMessage ToQueueMessage(StoredMessage m, int deliveryCount) => new()
    {
        MessageId = m.Id,
        SequenceNumber = m.Seq,
        Body = m.Body,
        ContentType = m.ContentType,
        Headers = m.Headers,
        EnqueuedTime = m.EnqueuedAt,
        DeliveryCount = deliveryCount,
        CorrelationId = m.CorrelationId,
        ReplyTo = m.ReplyTo,
        Subject = m.Subject,
        ScheduledEnqueueTime = m.ScheduledEnqueueTime,
        ExpiresAt = m.ExpiresAt,
    };

    /// <summary>A message given back (a dead-letter entry) as stored again: every field a producer set, and where it was.</summary>
    public static StoredMessage ToStoredMessage(QueueMessage m) => new()
    {
        Id = m.MessageId,
        Seq = m.SequenceNumber,
        Body = m.Body,
        ContentType = m.ContentType,
        Headers = m.Headers is { Count: > 0 } h ? new Dictionary<string, string>(h) : null,
        EnqueuedAt = m.EnqueuedTime,
        CorrelationId = m.CorrelationId,
        ReplyTo = m.ReplyTo,
        Subject = m.Subject,
        ScheduledEnqueueTime = m.ScheduledEnqueueTime,
        ExpiresAt = m.ExpiresAt,
    };

    /// <summary>
    /// A stored message sent again (a redrive, or a scheduled message joining its queue): every field its producer set,
    /// under its own id; its time-to-live is what it had from when it became deliverable, counted again from the new send.
    /// </summary>
    public static OutgoingMessage ToOutgoingMessage(StoredMessage m) => new(m.Body)
    {
        MessageId = m.Id,
        ContentType = m.ContentType,
        Headers = m.Headers,
        CorrelationId = m.CorrelationId,
        ReplyTo = m.ReplyTo,
        Subject = m.Subject,
        ScheduledEnqueueTime = m.ScheduledEnqueueTime,
        TimeToLive = m.ExpiresAt is { } expires ? TimeToLiveOf(expires, m.ScheduledEnqueueTime ?? m.EnqueuedAt) : null,
    };

    private static TimeSpan TimeToLiveOf(DateTimeOffset expires, DateTimeOffset from) =>
        TimeSpan.FromTicks(Math.Clamp((expires - from).Ticks, QueueLimits.MinTimeToLive.Ticks, QueueLimits.MaxTimeToLive.Ticks));
}
