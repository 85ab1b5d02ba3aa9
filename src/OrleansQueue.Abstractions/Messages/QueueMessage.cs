namespace OrleansQueue;

/// <summary>A message as stored in a queue.</summary>
[GenerateSerializer, Immutable, Alias("oq.QueueMessage")]
public sealed record QueueMessage
{
    /// <summary>The producer's id of the message (generated when the producer gave none).</summary>
    [Id(0)] public required string MessageId { get; init; }

    /// <summary>The queue-assigned sequence number: 1 for the first message ever enqueued, then strictly increasing.</summary>
    [Id(1)] public required long SequenceNumber { get; init; }

    /// <summary>The message body. Do not change the array.</summary>
    [Id(2)] public required byte[] Body { get; init; }

    /// <summary>The MIME type of the body, if the producer gave one.</summary>
    [Id(3)] public string? ContentType { get; init; }

    /// <summary>Application headers, if any.</summary>
    [Id(4)] public IReadOnlyDictionary<string, string>? Headers { get; init; }

    /// <summary>When the queue stored the message.</summary>
    [Id(5)] public required DateTimeOffset EnqueuedTime { get; init; }

    /// <summary>How many times the message has been delivered, counting this delivery (0 for a message peeked before its first delivery).</summary>
    [Id(6)] public int DeliveryCount { get; init; }

    /// <summary>The id of the message this one answers or belongs with, if the producer gave one.</summary>
    [Id(7)] public string? CorrelationId { get; init; }

    /// <summary>Where the receiver should send its answer, if the producer said.</summary>
    [Id(8)] public string? ReplyTo { get; init; }

    /// <summary>What the message is about, if the producer said.</summary>
    [Id(9)] public string? Subject { get; init; }

    /// <summary>When the message was scheduled to become deliverable, if it was sent with a <see cref="OutgoingMessage.ScheduledEnqueueTime"/> in the future.</summary>
    [Id(10)] public DateTimeOffset? ScheduledEnqueueTime { get; init; }

    /// <summary>When the message expires (its time-to-live, or the queue's default, from when it became deliverable); <see langword="null"/> for never.</summary>
    [Id(11)] public DateTimeOffset? ExpiresAt { get; init; }

    /// <summary>The body decoded as UTF-8 text.</summary>
    public string BodyAsString() => System.Text.Encoding.UTF8.GetString(Body);
}
