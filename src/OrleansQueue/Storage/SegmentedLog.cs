// One type in four files by concern: here its state, opening and appending; SegmentedLog.Reading.cs (read, scan,
// find), SegmentedLog.Removal.cs (remove entries, delete the head), SegmentedLog.Records.cs (chunk records, the
// first-id cache, gaps): every part uses the same private state, so they stay one type.
namespace OrleansQueue.Storage;

/// <summary>
/// An append-only log of entries with ascending ids, stored as bounded segments (<c>recordName(0, 0)</c>,
/// <c>recordName(1, 0)</c>, ...), for a grain that owns it: the queue's messages and the dead-letter entries. A
/// segment is one record, or (<see cref="SegmentLimits.ChunkMaxEntries"/>) a run of chunk records
/// <c>recordName(n, 0)</c>, <c>recordName(n, 1)</c>, ... that follow each other, of which an append writes only the
/// last. Entries can be removed from single-record segments (the segment is rewritten with a hole); segments at the
/// head are deleted whole. Ids are never handed out twice, not even after the tail segment is emptied. Only the tail
/// segment is kept in memory.
/// </summary>
/// <remarks>
/// <para>The owner keeps a small cursor record of its own holding <see cref="HeadSegment"/>, <see cref="TailSegment"/>
/// (a hint: segments started after the cursor was written are found by probing forward from it) and
/// <see cref="NextId"/>, and tells the log each time that record is stored (<see cref="CursorStored"/>). No segment
/// from the stored hint on is ever deleted, so the probe always starts at a segment that exists.</para>
/// <para>An append writes up to <c>parallelWrites</c> segments at once. One that fails may leave a gap before others
/// that landed, shorter than that: a missing segment, or a segment whose last chunk was not rewritten, so that the
/// next one does not start where it ends. <see cref="OpenAsync"/> looks that far past the end and repairs such a gap
/// as <see cref="LogGapRepair"/> says: it fills it with empty segments (the ids in it are never used: the dead-letter
/// log), or deletes the segments that landed after it, whose writes were never confirmed, so that ids follow each
/// other without holes (the queue's sequence numbers). With 1, segments are written one after the other and no gap
/// can arise.</para>
/// <para>A failed storage call leaves the segments consistent (each write is one record; the entries written before
/// the failure stay stored) but this object's view unknown: the owner drops it and opens the log again.</para>
/// <para>Not thread-safe: it lives on one grain activation's scheduler.</para>
/// </remarks>
internal sealed partial class SegmentedLog<TSegment, TEntry>(
    ILogRecordStore store,
    Func<long, int, string> recordName,
    SegmentLimits limits,
    Func<TEntry, long> estimateBytes,
    int parallelWrites,
    LogGapRepair gapRepair = LogGapRepair.FillWithEmptySegments)
    where TSegment : class, ILogSegment<TEntry>, new()
    where TEntry : ILogEntry
{
    /// <summary>First ids of segments remembered for <see cref="SegmentOfAsync"/>; they never change while a segment exists.</summary>
    private const int FirstIdsKept = 4096;

    private readonly Dictionary<long, long> _firstIds = [];
    private SegmentImage<TSegment, TEntry> _tail = SegmentImage<TSegment, TEntry>.Empty(0, 1);

    /// <summary>The first segment not deleted.</summary>
    public long HeadSegment { get; private set; }

    /// <summary>The newest segment, where appends go.</summary>
    public long TailSegment => _tail.Id;

    /// <summary>The tail segment as stored (empty when it was never written).</summary>
    public SegmentImage<TSegment, TEntry> Tail => _tail;

    /// <summary>The id the next appended entry gets at the least.</summary>
    public long NextId { get; private set; } = 1;

    /// <summary>The tail hint in the owner's stored cursor: no segment from here on is deleted.</summary>
    public long StoredTailHint { get; private set; }

    /// <summary>
    /// Reads the tail: from the cursor's <paramref name="tailHint"/> (or <paramref name="headSegment"/> when it is
    /// past it), probing forward for segments written after the cursor. Returns the segments found, oldest first (the
    /// entries the cursor does not count yet are in them). <paramref name="nextIdAtLeast"/> is the cursor's record of
    /// ids handed out, so that they are not handed out again even where the segments no longer show them; an empty
    /// log's first entry gets it.
    /// </summary>
    public async Task<IReadOnlyList<SegmentImage<TSegment, TEntry>>> OpenAsync(long headSegment, long tailHint, long nextIdAtLeast)
    {
        _firstIds.Clear();
        HeadSegment = headSegment;
        StoredTailHint = tailHint;
        _tail = SegmentImage<TSegment, TEntry>.Empty(Math.Max(headSegment, tailHint), Math.Max(nextIdAtLeast, 1));
        var found = new List<SegmentImage<TSegment, TEntry>>();
        for (var id = _tail.Id; ; id++)
        {
            var segment = await ReadStoredAsync(id);
            if (gapRepair == LogGapRepair.DeleteWhatFollows && found.Count > 0 && segment is not null
                && segment.Segment.FirstId > _tail.NextId)
            {
                // The tail's last chunk was not rewritten while this segment, written beside it, landed.
                await DeleteAfterGapAsync(id);
                break;
            }

            if (segment is null)
            {
                // The end, unless an append that failed left a gap before segments that landed: fill it with empty
                // segments, so that the segments follow each other again, or delete those segments.
                var next = await NextAfterGapAsync(id);
                if (next is null)
                {
                    break;
                }

                if (gapRepair == LogGapRepair.DeleteWhatFollows)
                {
                    await DeleteAfterGapAsync(next.Value);
                    break;
                }

                var first = found.Count > 0 ? _tail.NextId : Math.Max(nextIdAtLeast, 1);
                for (; id < next; id++)
                {
                    var filler = SegmentImage<TSegment, TEntry>.Empty(id, first);
                    _tail = filler with { ETag = await store.WriteAsync(recordName(id, 0), filler.Segment, null) };
                    RememberFirstId(id, first);
                }

                segment = await ReadStoredAsync(id);
                if (segment is null)
                {
                    break; // cannot happen: nothing else writes this log
                }
            }

            found.Add(segment);
            _tail = segment;
            RememberFirstId(id, segment.Segment.FirstId);
        }

        NextId = Math.Max(Math.Max(nextIdAtLeast, 1), _tail.NextId);
        return found;
    }

    /// <summary>Records that the owner's cursor, naming <paramref name="tailHint"/> as the tail, is stored.</summary>
    public void CursorStored(long tailHint) => StoredTailHint = tailHint;

    /// <summary>A plan to append entries after the tail, from <see cref="NextId"/> on; <see cref="WriteAsync"/> stores it.</summary>
    public SegmentAppend<TSegment, TEntry> BeginAppend() => new(_tail, limits, NextId);

    /// <summary>
    /// Stores <paramref name="entries"/> (ids ascending, from <see cref="NextId"/> on) at the end of the log: fills
    /// the tail segment, then starts new ones, one write per segment touched. Returns how many segments it started.
    /// </summary>
    public async Task<int> AppendAsync(IReadOnlyList<TEntry> entries)
    {
        var append = BeginAppend();
        foreach (var entry in entries)
        {
            append.Add(entry, estimateBytes(entry));
        }

        var tail = TailSegment;
        await WriteAsync(append.Writes);
        return (int)(TailSegment - tail);
    }

    /// <summary>
    /// Writes what an append planned (<see cref="BeginAppend"/>): each segment's last chunk, up to
    /// <c>parallelWrites</c> at once (the next ones once those landed). After each round it tells
    /// <paramref name="landed"/> of each segment written, in order; when that returns false, it stops and returns
    /// false. When a write fails, others of its round may have landed, and those before it stay stored: the owner
    /// opens the log again.
    /// </summary>
    public async Task<bool> WriteAsync(IReadOnlyList<SegmentImage<TSegment, TEntry>> writes, Func<SegmentImage<TSegment, TEntry>, bool>? landed = null)
    {
        if (writes.Count > 0 && writes[0].Id != TailSegment && writes[0].Id != TailSegment + 1)
        {
            throw new InvalidOperationException($"Segment {writes[0].Id} does not follow the tail, segment {TailSegment}.");
        }

        foreach (var round in writes.Chunk(parallelWrites))
        {
            var etags = await Task.WhenAll(round.Select(w => store.WriteAsync(recordName(w.Id, w.Chunk), w.ChunkRecord(), w.ETag)));
            var written = new SegmentImage<TSegment, TEntry>[round.Length];
            for (var i = 0; i < round.Length; i++)
            {
                written[i] = round[i] with { ETag = etags[i] };
                RememberFirstId(round[i].Id, round[i].Segment.FirstId);
            }

            _tail = written[^1];
            NextId = Math.Max(NextId, _tail.NextId);
            foreach (var segment in written)
            {
                if (landed?.Invoke(segment) == false)
                {
                    return false;
                }
            }
        }

        return true;
    }
}
