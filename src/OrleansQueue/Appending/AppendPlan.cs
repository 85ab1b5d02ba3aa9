using OrleansQueue.Storage;
using MessageSegment = OrleansQueue.Storage.SegmentImage<OrleansQueue.Storage.SegmentState, OrleansQueue.Storage.StoredMessage>;

namespace OrleansQueue.Appending;

/// <summary>
/// What one group commit writes: the segments, in order (as the log's append planned them), and the sequence number
/// of every pending message; <paramref name="LeasedOnAppend"/> of the new messages (the first ones) carry their first
/// lock in the same write.
/// </summary>
internal sealed record AppendPlan(IReadOnlyList<MessageSegment> Segments, long[] Sequences, IReadOnlyList<StoredMessage> NewMessages, int LeasedOnAppend);
