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
    };
}
