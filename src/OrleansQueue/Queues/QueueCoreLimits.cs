using OrleansQueue.Storage;

namespace OrleansQueue.Queues;

/// <summary>The option values the core needs (<c>DedupWindow</c>: the silo's default duplicate-detection window, for queues that set none).</summary>
internal sealed record QueueCoreLimits(int SegmentMaxMessages, long SegmentMaxBytes, int ActiveSegments, TimeSpan DedupWindow, int DedupMaxIds,
    int DefaultMaxDeliveryCount = 10)
{
    /// <summary>
    /// An append starts a new chunk record once the tail's last chunk holds this many messages; by default the whole
    /// segment is one chunk.
    /// </summary>
    public int ChunkMaxMessages
    {
        get => _chunkMaxMessages ?? SegmentMaxMessages;
        init => _chunkMaxMessages = value;
    }

    private readonly int? _chunkMaxMessages;

    /// <summary>
    /// A segment that a group commit is already writing may take up to this many times
    /// <see cref="SegmentMaxMessages"/> (never more than <see cref="SegmentMaxBytes"/>), so a commit that crosses the
    /// count needs no second write; a segment that is full before a commit starts takes nothing more. 1: a hard count.
    /// </summary>
    public int SegmentStretch { get; init; } = 1;

    /// <summary>
    /// The queue log's segments: up to <see cref="SegmentMaxMessages"/> (stretched within one commit), stored as chunk
    /// records whatever <see cref="ChunkMaxMessages"/> is, so a segment is always read with every chunk it was given.
    /// </summary>
    public SegmentLimits Segments => new(SegmentMaxMessages, SegmentMaxBytes) { Stretch = SegmentStretch, ChunkMaxEntries = ChunkMaxMessages };

    public TimeSpan DefaultLockDuration { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Most estimated bytes the delivery window grows to beyond <see cref="ActiveSegments"/> segments (see <see cref="WindowTakesMore"/>).</summary>
    public long WindowMaxBytes { get; init; } = 128L * 1024 * 1024;

    /// <summary>
    /// Whether the delivery window, holding <paramref name="segments"/> segments of <paramref name="messages"/>
    /// messages and <paramref name="bytes"/> estimated bytes, takes another: while it has fewer than
    /// <see cref="ActiveSegments"/>, and beyond that while it holds fewer messages than that many full segments and
    /// fewer bytes than <see cref="WindowMaxBytes"/>, so that segments of a few large messages do not keep a
    /// consumer's prefetch out of it.
    /// </summary>
    public bool WindowTakesMore(int segments, long messages, long bytes) =>
        segments < ActiveSegments || (messages < (long)ActiveSegments * SegmentMaxMessages && bytes < WindowMaxBytes);

    /// <summary>
    /// The cursor record's size budget: above it, attempt histories are left out of it, and window heads are parked
    /// (<see cref="QueueCore.ParkWhileCursorOverBudget"/>). 600 KiB: well within one Azure Table entity (15 × 64 KiB).
    /// </summary>
    public long CursorBudgetBytes { get; init; } = 600 * 1024;

    /// <summary>Most messages in flight (locked, waiting out a redelivery delay, or being dead-lettered) per queue.</summary>
    public int MaxInFlight { get; init; } = 100_000;

    /// <summary>The silo's most messages per queue (<c>MaxQueueLength</c>): a queue's own <c>MaxLength</c> is at most this.</summary>
    public long MaxQueueLength { get; init; } = 10_000_000;
}
