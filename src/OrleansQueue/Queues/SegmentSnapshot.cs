using OrleansQueue.Storage;
using MessageSegment = OrleansQueue.Storage.SegmentImage<OrleansQueue.Storage.SegmentState, OrleansQueue.Storage.StoredMessage>;

namespace OrleansQueue.Queues;

/// <summary>The queue's view of a segment of its log: the messages, by sequence number. Never changed after creation.</summary>
internal sealed record SegmentSnapshot(long Id, long FirstSeq, IReadOnlyList<StoredMessage> Messages)
{
    public long NextSeq => FirstSeq + Messages.Count;

    public long LastSeq => NextSeq - 1;

    /// <summary>The segment of the log as stored (or as an append stores it).</summary>
    public static SegmentSnapshot Of(MessageSegment segment) => new(segment.Id, segment.Segment.FirstSequence, segment.Segment.Messages);
}
