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
    };

    /// <summary>A stored message sent again (a redrive): every field its producer set, under its own id.</summary>
    public static OutgoingMessage ToOutgoingMessage(StoredMessage m) => new(m.Body)
    {
        MessageId = m.Id,
        ContentType = m.ContentType,
        Headers = m.Headers,
        CorrelationId = m.CorrelationId,
        ReplyTo = m.ReplyTo,
        Subject = m.Subject,
        ScheduledEnqueueTime = m.ScheduledEnqueueTime,
    };
}
