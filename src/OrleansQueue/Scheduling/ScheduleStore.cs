using OrleansQueue.Storage;

namespace OrleansQueue.Scheduling;

/// <summary>
/// A queue's schedule: messages sent for later (<see cref="OutgoingMessage.ScheduledEnqueueTime"/>), stored apart from
/// the queue's log in segments by time bucket, each a run of chunk records of at most <see cref="ChunkMaxEntries"/>
/// messages, with a small index record (<see cref="ScheduleIndexState"/>, one entry per segment). Loading reads the
/// index, and the segments sent to within the duplicate-detection window (for their ids, one at a time); a segment's
/// messages are read when its earliest time comes, when one of them is cancelled, or when the queue is deleted. Messages due in the same bucket share segments, so segments empty as a whole and are deleted.
/// </summary>
/// <remarks>
/// <para>A scheduled message's number encodes where it is stored: <c>FirstScheduledSequenceNumber + (segment &lt;&lt; 20)
/// + (chunk &lt;&lt; 8) + slot</c>, so a cancel reads one chunk. A chunk's slots are handed out in order; a slot is
/// handed out again only when the append that took it was never confirmed.</para>
/// <para>An append writes the chunks it touched, then the index; when it starts new chunks or segments, it writes the
/// index first as well, naming them (<see cref="ScheduleSegmentInfo.NamedChunks"/>), so that every record the schedule
/// wrote is named by its index (a delete finds all of them). Only what the index confirms counts: the chunks below
/// <see cref="ScheduleSegmentInfo.Chunks"/>, and in the last of them the slots below
/// <see cref="ScheduleSegmentInfo.LastChunkSlots"/>. A message of an append whose last index write did not land was
/// never confirmed: it is ignored, and overwritten by the next append.</para>
/// <para>A failed storage call leaves this object's view unknown: the owner drops it and loads the index again.
/// Not thread-safe: the owner runs one operation at a time.</para>
/// </remarks>
internal sealed partial class ScheduleStore(ILogRecordStore store, long chunkMaxBytes)
{
    public const int ChunkMaxEntries = 16;
    public const int SegmentMaxEntries = 1024;

    /// <summary>
    /// Segments the index holds at most: about 100 bytes each in the index record with the binary encoding, 300 with
    /// JSON, so the record stays within Azure Table's 1 MB.
    /// </summary>
    public const int MaxSegments = 2048;

    /// <summary>Estimated stored bytes a segment takes at most (it closes then).</summary>
    public const long SegmentMaxBytes = 16L * 1024 * 1024;

    /// <summary>New segments one append starts at most: the rest of its messages wait for the next.</summary>
    public const int MaxNewSegmentsPerAppend = 64;

    private const int SlotBits = 8;
    private const int ChunkBits = 12;
    private const int MaxChunks = (1 << ChunkBits) - 1;
    private const int ParallelReads = 8;

    private ScheduleIndexState _index = new();
    private string? _etag;
    private readonly Dictionary<long, ScheduleSegmentInfo> _byId = [];
    private readonly Dictionary<long, ScheduleSegmentInfo> _openByBucket = [];
    private readonly Dictionary<(long Segment, int Chunk), (ScheduleChunkState State, string? ETag)> _lastChunks = [];

    /// <summary>Scheduled messages held (as the index counts them).</summary>
    public long Count { get; private set; }

    /// <summary>Their body bytes.</summary>
    public long BodyBytes { get; private set; }

    /// <summary>A move into the queue recorded and not finished (after a crash), if any.</summary>
    public ScheduleMove? Moving => _index.Moving;

    /// <summary>The segments, for reading the ids of recent appends back into duplicate detection.</summary>
    public IReadOnlyList<ScheduleSegmentInfo> Segments => _index.Segments;

    /// <summary>When the earliest segment may have a message due; null when the schedule is empty.</summary>
    public DateTimeOffset? NextDue
    {
        get
        {
            DateTimeOffset? next = null;
            foreach (var segment in _index.Segments)
            {
                if (segment.MinDue != DateTimeOffset.MaxValue && (next is null || segment.MinDue < next))
                {
                    next = segment.MinDue;
                }
            }

            return next;
        }
    }

    public static long Number(long segment, int chunk, int slot) =>
        QueueLimits.FirstScheduledSequenceNumber + (segment << (ChunkBits + SlotBits)) + ((long)chunk << SlotBits) + slot;

    public static (long Segment, int Chunk, int Slot) Decode(long number)
    {
        var relative = number - QueueLimits.FirstScheduledSequenceNumber;
        return (relative >> (ChunkBits + SlotBits), (int)((relative >> SlotBits) & ((1 << ChunkBits) - 1)), (int)(relative & ((1 << SlotBits) - 1)));
    }

    /// <summary>
    /// The time bucket of a message due at <paramref name="due"/>, sent at <paramref name="now"/>: buckets are 1 second
    /// wide for messages due within about a minute and twice as wide for every doubling of the time ahead (at most
    /// 2^16 s, 18 hours), about 64 buckets in each doubling, so the open segments stay few however far ahead messages are.
    /// </summary>
    public static long BucketOf(DateTimeOffset due, DateTimeOffset now)
    {
        var ahead = Math.Max(1L, (long)(due - now).TotalSeconds);
        var exponent = 0;
        while (exponent < 16 && (64L << (exponent + 1)) <= ahead)
        {
            exponent++;
        }

        return ((long)exponent << 48) | (due.ToUnixTimeSeconds() >> exponent);
    }

    public static string ChunkName(long segment, int chunk) => StateNames.ScheduleChunk(segment, chunk);

    public async Task LoadAsync()
    {
        var (index, etag) = await store.ReadAsync<ScheduleIndexState>(StateNames.ScheduleIndex);
        _index = index ?? new ScheduleIndexState();
        _etag = etag;
        _lastChunks.Clear();
        Reindex();
    }

    private void Reindex()
    {
        _byId.Clear();
        _openByBucket.Clear();
        (Count, BodyBytes) = (0, 0);
        foreach (var segment in _index.Segments)
        {
            _byId[segment.Id] = segment;
            if (!IsFull(segment))
            {
                _openByBucket[segment.Bucket] = segment;
            }

            Count += segment.Live;
            BodyBytes += segment.LiveBodyBytes;
        }
    }

    private async Task WriteIndexAsync()
    {
        _etag = await store.WriteAsync(StateNames.ScheduleIndex, _index, _etag);
        Reindex();
    }

    private static bool IsFull(ScheduleSegmentInfo segment) =>
        segment.Closed || segment.Appended >= SegmentMaxEntries || segment.Chunks >= MaxChunks || segment.AppendedBytes >= SegmentMaxBytes;

    private static ScheduleSegmentInfo Copy(ScheduleSegmentInfo s) => new()
    {
        Id = s.Id,
        Bucket = s.Bucket,
        Chunks = s.Chunks,
        LastChunkSlots = s.LastChunkSlots,
        LastChunkBytes = s.LastChunkBytes,
        Live = s.Live,
        Appended = s.Appended,
        MinDue = s.MinDue,
        LiveBodyBytes = s.LiveBodyBytes,
        LastAppendAt = s.LastAppendAt,
        NamedChunks = s.NamedChunks,
        AppendedBytes = s.AppendedBytes,
        Closed = s.Closed,
    };
}

/// <summary>Due messages read from the schedule, and what each segment read holds once they are removed.</summary>
internal sealed record DueBatch(List<StoredMessage> Messages, Dictionary<long, SegmentAfter> After);

/// <summary>What a schedule segment holds after a removal, as a read of all of it saw.</summary>
internal readonly record struct SegmentAfter(int Live, long BodyBytes, DateTimeOffset MinDue);
