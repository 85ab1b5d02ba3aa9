using OrleansQueue.Storage;

namespace OrleansQueue.Delivery;

/// <summary>A head segment loaded into the delivery window: its messages and, side by side, their delivery state.</summary>
internal sealed class WindowSegment(long id, long firstSeq)
{
    public long Id { get; } = id;
    public long FirstSeq { get; } = firstSeq;
    public List<StoredMessage> Messages { get; } = [];

    /// <summary>The messages' estimated stored size (<see cref="SegmentSizing.EstimateBytes(StoredMessage)"/>), counted as they are added.</summary>
    public long Bytes { get; private set; }
    public List<DeliveryEntry> Entries { get; } = [];
    public int CompletedCount { get; set; }
    public long NextSeq => FirstSeq + Messages.Count;
    public bool AllCompleted => CompletedCount == Messages.Count;

    /// <summary>Adds a message (its delivery entry is added beside it by the caller).</summary>
    public void Add(StoredMessage message)
    {
        Messages.Add(message);
        Bytes += SegmentSizing.EstimateBytes(message);
    }
}
