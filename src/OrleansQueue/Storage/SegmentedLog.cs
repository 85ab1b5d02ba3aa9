namespace OrleansQueue.Storage;

/// <summary>How much one segment holds: another entry while it has fewer than <paramref name="MaxEntries"/> and stays within <paramref name="MaxBytes"/> (estimated); an empty segment takes any entry.</summary>
internal readonly record struct SegmentLimits(int MaxEntries, long MaxBytes);

/// <summary>Entries of a <see cref="SegmentedLog{TSegment, TEntry}"/> found together, with the segment records (and versions) that hold them.</summary>
internal sealed class LogSelection<TSegment, TEntry>
    where TEntry : ILogEntry
{
    internal List<(long Id, TSegment Segment, string? ETag)> Segments { get; } = [];

    internal HashSet<long> Ids { get; } = [];

    /// <summary>The entries found, in id order.</summary>
    public List<TEntry> Entries { get; } = [];
}

/// <summary>
/// An append-only log of entries with ascending ids, stored as bounded segment records (<c>name(0)</c>,
/// <c>name(1)</c>, ...), for a grain that owns it. Entries can be removed anywhere (their segment is rewritten with a
/// hole); empty segments at the head are deleted. Ids are never handed out twice, not even after the tail segment is
/// emptied. Only the tail segment is kept in memory.
/// </summary>
/// <remarks>
/// <para>The owner keeps a small cursor record of its own holding <see cref="HeadSegment"/>, <see cref="TailSegment"/>
/// (a hint: segments started after the cursor was written are found by probing forward from it) and
/// <see cref="NextId"/>, and tells the log each time that record is stored (<see cref="CursorStored"/>). No segment
/// from the stored hint on is ever deleted, so the probe always starts at a segment that exists.</para>
/// <para>A failed storage call leaves the segments consistent (each write is one record; the entries written before
/// the failure stay stored) but this object's view unknown: the owner drops it and opens the log again.</para>
/// <para>Not thread-safe: it lives on one grain activation's scheduler.</para>
/// </remarks>
internal sealed class SegmentedLog<TSegment, TEntry>(
    ILogRecordStore store,
    Func<long, string> recordName,
    SegmentLimits limits,
    Func<TEntry, long> estimateBytes)
    where TSegment : class, ILogSegment<TEntry>, new()
    where TEntry : ILogEntry
{
    /// <summary>First ids of segments remembered for <see cref="SegmentOfAsync"/>; they never change while a segment exists.</summary>
    private const int FirstIdsKept = 4096;

    /// <summary>
    /// Most segment writes an append has in flight at once. One that fails may leave a gap before others that landed,
    /// shorter than this: <see cref="OpenAsync"/> looks that far past a missing segment and fills such gaps.
    /// </summary>
    internal const int MaxParallelWrites = 8;

    private readonly Dictionary<long, long> _firstIds = [];
    private TSegment _tail = new() { FirstId = 1 };
    private string? _tailETag;
    private long _tailBytes;

    /// <summary>The first segment not deleted.</summary>
    public long HeadSegment { get; private set; }

    /// <summary>The newest segment, where appends go.</summary>
    public long TailSegment { get; private set; }

    /// <summary>The id the next appended entry gets at the least.</summary>
    public long NextId { get; private set; } = 1;

    /// <summary>The tail hint in the owner's stored cursor: no segment from here on is deleted.</summary>
    public long StoredTailHint { get; private set; }

    /// <summary>
    /// Reads the tail: from the cursor's <paramref name="tailHint"/> (or <paramref name="headSegment"/> when it is
    /// past it), probing forward for segments written after the cursor. Returns the segments found, oldest first (the
    /// entries the cursor does not count yet are in them). <paramref name="nextIdAtLeast"/> is the cursor's record of
    /// ids handed out, so that they are not handed out again even where the segments no longer show them.
    /// </summary>
    public async Task<IReadOnlyList<TSegment>> OpenAsync(long headSegment, long tailHint, long nextIdAtLeast)
    {
        _firstIds.Clear();
        HeadSegment = headSegment;
        StoredTailHint = tailHint;
        TailSegment = Math.Max(headSegment, tailHint);
        (_tail, _tailETag) = (new TSegment(), null);
        var found = new List<TSegment>();
        for (var id = TailSegment; ; id++)
        {
            var (segment, etag) = await store.ReadAsync<TSegment>(recordName(id));
            if (segment is null)
            {
                // The end, unless an append that failed left a gap before segments that landed: fill it with empty
                // segments, so that the segments follow each other again.
                var next = await NextAfterGapAsync(id);
                if (next is null)
                {
                    break;
                }

                var first = found.Count > 0 ? After(_tail) : Math.Max(nextIdAtLeast, 1);
                for (; id < next; id++)
                {
                    var filler = new TSegment { FirstId = first, LastAssignedId = first - 1 };
                    (_tail, _tailETag, TailSegment) = (filler, await store.WriteAsync(recordName(id), filler, null), id);
                    RememberFirstId(id, first);
                }

                (segment, etag) = await store.ReadAsync<TSegment>(recordName(id));
                if (segment is null)
                {
                    break; // cannot happen: nothing else writes this log
                }
            }

            found.Add(segment);
            (_tail, _tailETag, TailSegment) = (segment, etag, id);
            RememberFirstId(id, segment.FirstId);
        }

        NextId = Math.Max(Math.Max(nextIdAtLeast, 1), After(_tail));
        if (found.Count == 0)
        {
            _tail.FirstId = NextId;
        }

        _tailBytes = SumBytes(_tail);
        return found;
    }

    /// <summary>Records that the owner's cursor, naming <paramref name="tailHint"/> as the tail, is stored.</summary>
    public void CursorStored(long tailHint) => StoredTailHint = tailHint;

    /// <summary>
    /// Stores <paramref name="entries"/> (ids ascending, from <see cref="NextId"/> on) at the end of the log: fills
    /// the tail segment, then starts new ones, one write per segment touched, up to <see cref="MaxParallelWrites"/> at
    /// once (the next ones once those landed). Returns how many segments it started. When a write fails, others of
    /// its round may have landed, and those before it stay stored: the owner opens the log again.
    /// </summary>
    public async Task<int> AppendAsync(IReadOnlyList<TEntry> entries)
    {
        var previous = NextId - 1;
        foreach (var entry in entries)
        {
            if (entry.LogId <= previous)
            {
                throw new ArgumentException($"Entry ids must ascend from {NextId} on; {entry.LogId} follows {previous}.", nameof(entries));
            }

            previous = entry.LogId;
        }

        if (entries.Count == 0)
        {
            return 0;
        }

        var plan = new List<(long Id, TSegment Segment, string? ETag, long Bytes)>();
        var (id, segment, etag, bytes, changed) = (TailSegment, Copy(_tail), _tailETag, _tailBytes, false);
        foreach (var entry in entries)
        {
            var size = estimateBytes(entry);
            if (segment.Entries.Count > 0 && (segment.Entries.Count >= limits.MaxEntries || bytes + size > limits.MaxBytes))
            {
                if (changed)
                {
                    plan.Add((id, segment, etag, bytes));
                }

                (id, segment, etag, bytes) = (id + 1, new TSegment { FirstId = entry.LogId }, null, 0);
            }

            segment.Entries.Add(entry);
            segment.LastAssignedId = entry.LogId;
            bytes += size;
            changed = true;
        }

        plan.Add((id, segment, etag, bytes));
        var started = (int)(id - TailSegment);
        foreach (var round in plan.Chunk(MaxParallelWrites))
        {
            var written = await Task.WhenAll(round.Select(step => store.WriteAsync(recordName(step.Id), step.Segment, step.ETag)));
            var last = round[^1];
            (_tail, _tailETag, _tailBytes, TailSegment) = (last.Segment, written[^1], last.Bytes, last.Id);
            NextId = last.Segment.LastAssignedId + 1;
            foreach (var step in round)
            {
                RememberFirstId(step.Id, step.Segment.FirstId);
            }
        }

        return started;
    }

    /// <summary>Segment <paramref name="segmentId"/>, or null when it does not exist (deleted, or not written yet).</summary>
    public async Task<TSegment?> ReadAsync(long segmentId) => (await ReadWithETagAsync(segmentId)).Segment;

    /// <summary>
    /// Visits the entries with ids from <paramref name="fromId"/> on, oldest first, reading at most
    /// <paramref name="maxSegments"/> segments; <paramref name="visit"/> returns false to stop before an entry. Returns
    /// where to go on: the id of the entry it stopped before, or the first id of the next segment when the segment
    /// limit cut the scan short; null once the end of the log is reached.
    /// </summary>
    public async Task<long?> ScanAsync(long fromId, int maxSegments, Func<TEntry, bool> visit)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxSegments, 1);
        var resume = fromId;
        var read = 0;
        for (var segmentId = await SegmentOfAsync(fromId); segmentId <= TailSegment; segmentId++)
        {
            if (read == maxSegments)
            {
                return Math.Max(resume, await FirstIdAsync(segmentId) ?? resume);
            }

            var segment = await ReadAsync(segmentId);
            read++;
            if (segment is null)
            {
                if (segmentId == HeadSegment)
                {
                    HeadSegment++; // deleted after the cursor was last stored
                }

                continue;
            }

            foreach (var entry in segment.Entries)
            {
                if (entry.LogId >= fromId && !visit(entry))
                {
                    return entry.LogId;
                }
            }

            resume = Math.Max(resume, After(segment));
        }

        return null;
    }

    /// <summary>The entries with these ids that exist, with the segments that hold them (one read per segment).</summary>
    public async Task<LogSelection<TSegment, TEntry>> FindAsync(IEnumerable<long> ids)
    {
        var selection = new LogSelection<TSegment, TEntry>();
        var sorted = ids.Distinct().Order().ToList();
        var lastSegment = long.MinValue;
        for (var i = 0; i < sorted.Count;)
        {
            var segmentId = await SegmentOfAsync(sorted[i]);
            if (segmentId == lastSegment)
            {
                i++; // in a segment already looked at, and not there
                continue;
            }

            lastSegment = segmentId;
            var (segment, etag) = await ReadWithETagAsync(segmentId);
            if (segment is null)
            {
                i++;
                continue;
            }

            var end = After(segment);
            var wanted = new HashSet<long>();
            while (i < sorted.Count && sorted[i] < end)
            {
                wanted.Add(sorted[i++]);
            }

            var found = segment.Entries.Where(e => wanted.Contains(e.LogId)).ToList();
            if (found.Count > 0)
            {
                selection.Segments.Add((segmentId, segment, etag));
                selection.Entries.AddRange(found);
                selection.Ids.UnionWith(found.Select(e => e.LogId));
            }
        }

        return selection;
    }

    /// <summary>
    /// Removes the selected entries from their segments: one write per segment, or a delete for a segment left empty
    /// at the head; then deletes the empty segments that became the head. Never deletes the tail, nor a segment from
    /// the stored tail hint on. Each write is made against the version the selection read, so a selection applies
    /// once. Removing entries that are gone already changes nothing, so a recorded removal can be applied again.
    /// </summary>
    public async Task RemoveAsync(LogSelection<TSegment, TEntry> selection)
    {
        var headTouched = false;
        foreach (var (segmentId, segment, etag) in selection.Segments)
        {
            headTouched |= segmentId == HeadSegment;
            var kept = new TSegment
            {
                FirstId = segment.FirstId,
                Entries = segment.Entries.Where(e => !selection.Ids.Contains(e.LogId)).ToList(),
                LastAssignedId = After(segment) - 1, // an emptied tail keeps its ids handed out
            };
            if (kept.Entries.Count == 0 && segmentId == HeadSegment && IsDeletable(segmentId))
            {
                await store.DeleteAsync(recordName(segmentId), segment, etag);
                _firstIds.Remove(segmentId);
                HeadSegment++;
                continue;
            }

            var written = await store.WriteAsync(recordName(segmentId), kept, etag);
            if (segmentId == TailSegment)
            {
                (_tail, _tailETag, _tailBytes) = (kept, written, SumBytes(kept));
            }
        }

        if (headTouched)
        {
            await DeleteEmptyHeadAsync();
        }
    }

    /// <summary>Deletes empty segments at the head (below the stored tail hint and the tail).</summary>
    public async Task DeleteEmptyHeadAsync()
    {
        while (IsDeletable(HeadSegment))
        {
            var (head, etag) = await store.ReadAsync<TSegment>(recordName(HeadSegment));
            if (head is not null && head.Entries.Count > 0)
            {
                return;
            }

            if (head is not null)
            {
                await store.DeleteAsync(recordName(HeadSegment), head, etag);
            }

            _firstIds.Remove(HeadSegment);
            HeadSegment++;
        }
    }

    /// <summary>
    /// The segments from the tail back towards the head, newest first, <paramref name="readAhead"/> read at once,
    /// until <paramref name="enough"/> says so (after each segment).
    /// </summary>
    public async Task ReadBackwardAsync(int readAhead, Func<TSegment, bool> enough)
    {
        for (var next = TailSegment; next >= HeadSegment;)
        {
            var ids = Enumerable.Range(0, (int)Math.Min(readAhead, next - HeadSegment + 1)).Select(i => next - i).ToList();
            var segments = await Task.WhenAll(ids.Select(ReadAsync));
            foreach (var segment in segments)
            {
                if (segment is not null && enough(segment))
                {
                    return;
                }
            }

            next -= ids.Count;
        }
    }

    /// <summary>
    /// The segment that holds (or would hold) the entry with id <paramref name="entryId"/>: the last one whose first id
    /// is at most it, found by binary search over the segments' first ids.
    /// </summary>
    public async Task<long> SegmentOfAsync(long entryId)
    {
        if (entryId >= _tail.FirstId)
        {
            return TailSegment;
        }

        var (lo, hi) = (HeadSegment, TailSegment);
        while (lo < hi)
        {
            var mid = lo + (hi - lo + 1) / 2;
            var first = await FirstIdAsync(mid);
            if (first is null || first <= entryId)
            {
                lo = mid; // a missing segment was deleted at the head: what is sought is not before it
            }
            else
            {
                hi = mid - 1;
            }
        }

        return lo;
    }

    /// <summary>The first segment within <see cref="MaxParallelWrites"/> after the missing <paramref name="missing"/> that exists, if any.</summary>
    private async Task<long?> NextAfterGapAsync(long missing)
    {
        var ids = Enumerable.Range(1, MaxParallelWrites - 1).Select(i => missing + i).ToList();
        var reads = await Task.WhenAll(ids.Select(id => store.ReadAsync<TSegment>(recordName(id))));
        var found = Array.FindIndex(reads, r => r.Record is not null);
        return found < 0 ? null : ids[found];
    }

    /// <summary>The id after the highest one <paramref name="segment"/> ever held.</summary>
    private static long After(TSegment segment) =>
        Math.Max(segment.LastAssignedId, Math.Max(segment.Entries.Count > 0 ? segment.Entries[^1].LogId : 0, segment.FirstId - 1)) + 1;

    private static TSegment Copy(TSegment segment) =>
        new() { FirstId = segment.FirstId, Entries = [.. segment.Entries], LastAssignedId = segment.LastAssignedId };

    private bool IsDeletable(long segmentId) => segmentId < TailSegment && segmentId < StoredTailHint;

    private long SumBytes(TSegment segment) => segment.Entries.Sum(estimateBytes);

    private async Task<(TSegment? Segment, string? ETag)> ReadWithETagAsync(long segmentId)
    {
        if (segmentId == TailSegment)
        {
            return (_tail, _tailETag);
        }

        if (segmentId < HeadSegment || segmentId > TailSegment)
        {
            return (null, null);
        }

        var (segment, etag) = await store.ReadAsync<TSegment>(recordName(segmentId));
        if (segment is not null)
        {
            RememberFirstId(segmentId, segment.FirstId);
        }

        return (segment, etag);
    }

    private async Task<long?> FirstIdAsync(long segmentId) =>
        segmentId == TailSegment ? _tail.FirstId
        : _firstIds.TryGetValue(segmentId, out var first) ? first
        : (await ReadWithETagAsync(segmentId)).Segment?.FirstId;

    private void RememberFirstId(long segmentId, long firstId)
    {
        if (_firstIds.Count >= FirstIdsKept && !_firstIds.ContainsKey(segmentId))
        {
            _firstIds.Clear(); // bounded; the ids are read again when needed
        }

        _firstIds[segmentId] = firstId;
    }
}
