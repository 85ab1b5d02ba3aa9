using OrleansQueue.Storage;

namespace OrleansQueue.Delivery;

/// <summary>A head segment loaded into the delivery window: its messages and, side by side, their delivery state.</summary>
internal sealed class WindowSegment(long id, long firstSeq)
{
    public long Id { get; } = id;
    public long FirstSeq { get; } = firstSeq;
    public List<StoredMessage> Messages { get; } = [];
    public List<DeliveryEntry> Entries { get; } = [];
    public int CompletedCount { get; set; }
    public long NextSeq => FirstSeq + Messages.Count;
    public bool AllCompleted => CompletedCount == Messages.Count;
}
