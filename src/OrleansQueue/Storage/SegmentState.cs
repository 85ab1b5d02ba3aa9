namespace OrleansQueue.Storage;

// What the grain storage provider serializes (JSON by default, or the Orleans serializer). Its name and members are a
// storage format: rename nothing, add members only with defaults.

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
