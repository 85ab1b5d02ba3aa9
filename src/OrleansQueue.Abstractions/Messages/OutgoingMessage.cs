namespace OrleansQueue;

/// <summary>A message a producer sends to a queue.</summary>
/// <remarks>
/// The body is not copied: do not change the array after handing it over.
/// Give every message a <see cref="MessageId"/> you can reproduce when you retry a send whose outcome is unknown
/// (a timeout): within the queue's duplicate-detection window a retried id is stored once.
/// When it is <see langword="null"/>, the client handle generates one before the first attempt.
/// </remarks>
[GenerateSerializer, Immutable, Alias("oq.OutgoingMessage")]
public sealed record OutgoingMessage
{
    /// <summary>Creates a message with the given body.</summary>
    public OutgoingMessage(byte[] body) => Body = body ?? throw new ArgumentNullException(nameof(body));

    /// <summary>The message body, at most <see cref="QueueLimits.DefaultMaxMessageBodyBytes"/> bytes by default.</summary>
    [Id(0)] public byte[] Body { get; init; }

    /// <summary>The producer's id of the message: 1 to 128 printable ASCII characters, none of <c>/ \ # ?</c>.</summary>
    [Id(1)] public string? MessageId { get; init; }

    /// <summary>The MIME type of the body, for example <c>application/json</c>; optional, at most 256 characters without control characters.</summary>
    [Id(2)] public string? ContentType { get; init; }

    /// <summary>
    /// Application headers: at most 128, with at most 64 KiB of keys and values together (UTF-8); keys not empty,
    /// values not null, neither with control characters.
    /// </summary>
    [Id(3)] public IReadOnlyDictionary<string, string>? Headers { get; init; }

    /// <summary>
    /// The id of the message this one answers or belongs with (request/reply): the queue stores it and gives it back
    /// with every delivery, unread. At most <see cref="QueueLimits.MaxCorrelationIdBytes"/> UTF-8 bytes, no control characters.
    /// </summary>
    [Id(4)] public string? CorrelationId { get; init; }

    /// <summary>
    /// Where the receiver should send its answer, usually a queue name (request/reply). Stored and given back unread.
    /// At most <see cref="QueueLimits.MaxReplyToBytes"/> UTF-8 bytes, no control characters.
    /// </summary>
    [Id(5)] public string? ReplyTo { get; init; }

    /// <summary>
    /// What the message is about, for the application (Service Bus's subject, a label). Stored and given back unread.
    /// At most <see cref="QueueLimits.MaxSubjectBytes"/> UTF-8 bytes, no control characters.
    /// </summary>
    [Id(6)] public string? Subject { get; init; }

    /// <summary>
    /// When the message becomes deliverable (Service Bus's scheduled enqueue time). A time in the future stores the
    /// message in the queue's schedule: the send returns a scheduled sequence number (at least
    /// <see cref="QueueLimits.FirstScheduledSequenceNumber"/>) once it is stored, which
    /// <c>QueueClient.CancelScheduledMessageAsync</c> takes, and at that time the message joins the queue with a
    /// sequence number of the queue's. A time not in the future (or <see langword="null"/>) sends it at once. At most
    /// <see cref="QueueLimits.MaxScheduleAhead"/> ahead of the silo's clock.
    /// </summary>
    [Id(7)] public DateTimeOffset? ScheduledEnqueueTime { get; init; }

    /// <summary>
    /// How long the message may wait to be delivered, counted from when it becomes deliverable (its
    /// <see cref="ScheduledEnqueueTime"/>, if any): an expired message is never delivered; it is dropped (counted in
    /// <see cref="QueueStats.TotalExpired"/>) or, when the queue's <see cref="QueueSettings.DeadLetterOnMessageExpiration"/>
    /// says so, dead-lettered. The queue's <see cref="QueueSettings.DefaultMessageTimeToLive"/> applies when it is
    /// shorter or this is <see langword="null"/>. 1 ms to <see cref="QueueLimits.MaxTimeToLive"/>.
    /// </summary>
    [Id(8)] public TimeSpan? TimeToLive { get; init; }

    /// <summary>Creates a message whose body is the UTF-8 encoding of <paramref name="text"/>.</summary>
    public static OutgoingMessage FromText(string text, string? messageId = null) =>
        new(System.Text.Encoding.UTF8.GetBytes(text)) { MessageId = messageId, ContentType = "text/plain; charset=utf-8" };
}
