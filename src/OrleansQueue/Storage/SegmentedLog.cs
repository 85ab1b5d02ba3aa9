// Over 400 lines on purpose: this is the one segmented-log type that both the queue and the dead-letter grain use,
// and its operations (open and probe, append, scan, find and remove, delete the head) share the chunk joining, the
// first-id cache and the gap rules kept here; split, each part would need the others' private state.
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
/// that landed, shorter than that: <see cref="OpenAsync"/> looks that far past a missing segment and fills such gaps
/// with empty segments. With 1, segments are written one after the other and no gap can arise: a log whose ids must
/// follow each other without holes (the queue's sequence numbers) writes so.</para>
/// <para>A failed storage call leaves the segments consistent (each write is one record; the entries written before
/// the failure stay stored) but this object's view unknown: the owner drops it and opens the log again.</para>
/// <para>Not thread-safe: it lives on one grain activation's scheduler.</para>
/// </remarks>
internal sealed class SegmentedLog<TSegment, TEntry>(
    ILogRecordStore store,
    Func<long, int, string> recordName,
    SegmentLimits limits,
    Func<TEntry, long> estimateBytes,
    int parallelWrites)
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
            if (segment is null)
            {
                // The end, unless an append that failed left a gap before segments that landed: fill it with empty
                // segments, so that the segments follow each other again.
                var next = await NextAfterGapAsync(id);
                if (next is null)
                {
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

    /// <summary>Segment <paramref name="segmentId"/>, or null when it does not exist (deleted, or not written yet).</summary>
    public async Task<TSegment?> ReadAsync(long segmentId) => (await ReadImageAsync(segmentId))?.Segment;

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

            resume = Math.Max(resume, SegmentImage<TSegment, TEntry>.After(segment));
        }

        return null;
    }

    /// <summary>
    /// Reads the segments from <paramref name="from"/> towards <paramref name="to"/> (either way; none outside the
    /// head and the tail), <paramref name="readAhead"/> at once, and visits each in order (null: it does not exist)
    /// until <paramref name="visit"/> returns false. Segments in <paramref name="known"/> are not read again; those
    /// read are added to it.
    /// </summary>
    public async Task ReadRunAsync(long from, long to, int readAhead, Func<long, TSegment?, bool> visit, IDictionary<long, TSegment>? known = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(readAhead, 1);
        var step = to >= from ? 1 : -1;
        for (var next = from; step > 0 ? next <= to : next >= to;)
        {
            var ids = new List<long>();
            for (var id = next; ids.Count < readAhead && (step > 0 ? id <= to : id >= to); id += step)
            {
                ids.Add(id);
            }

            var segments = await Task.WhenAll(ids.Select(id => known is not null && known.TryGetValue(id, out var segment) ? Task.FromResult<TSegment?>(segment) : ReadAsync(id)));
            for (var i = 0; i < ids.Count; i++)
            {
                if (known is not null && segments[i] is { } segment)
                {
                    known[ids[i]] = segment;
                }

                if (!visit(ids[i], segments[i]))
                {
                    return;
                }
            }

            next += step * ids.Count;
        }
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
            var image = await ReadImageAsync(segmentId);
            if (image is null)
            {
                i++;
                continue;
            }

            var end = image.NextId;
            var wanted = new HashSet<long>();
            while (i < sorted.Count && sorted[i] < end)
            {
                wanted.Add(sorted[i++]);
            }

            var found = image.Segment.Entries.Where(e => wanted.Contains(e.LogId)).ToList();
            if (found.Count > 0)
            {
                selection.Segments.Add(image);
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
    /// Only single-record segments take removals: a segment stored in several chunk records leaves with its head.
    /// </summary>
    public async Task RemoveAsync(LogSelection<TSegment, TEntry> selection)
    {
        var headTouched = false;
        foreach (var image in selection.Segments)
        {
            if (image.Chunk > 0)
            {
                throw new InvalidOperationException($"Segment {image.Id} is stored in {image.Chunk + 1} chunk records: its entries are removed only with the whole segment.");
            }

            var segmentId = image.Id;
            headTouched |= segmentId == HeadSegment;
            var kept = new TSegment
            {
                FirstId = image.Segment.FirstId,
                Entries = image.Segment.Entries.Where(e => !selection.Ids.Contains(e.LogId)).ToList(),
                LastAssignedId = image.NextId - 1, // an emptied tail keeps its ids handed out
            };
            if (kept.Entries.Count == 0 && segmentId == HeadSegment && IsDeletable(segmentId))
            {
                await store.DeleteAsync(recordName(segmentId, 0), image.Segment, image.ETag);
                _firstIds.Remove(segmentId);
                HeadSegment++;
                continue;
            }

            var written = await store.WriteAsync(recordName(segmentId, 0), kept, image.ETag);
            if (segmentId == TailSegment)
            {
                _tail = new SegmentImage<TSegment, TEntry>(segmentId, kept, written, SumBytes(kept.Entries));
            }
        }

        if (headTouched)
        {
            while (await DeleteHeadAsync(HeadSegment, static head => head.Entries.Count == 0))
            {
            }
        }
    }

    /// <summary>
    /// Deletes segment <paramref name="segmentId"/>, the head, every chunk record of it (the last first: a delete cut
    /// short leaves a shorter segment, never a chunk without the record that leads to it), when
    /// <paramref name="deletable"/> says so of its entries. A segment gone already counts as deleted. Never the tail,
    /// nor a segment from the stored tail hint on. Returns whether the head moved past it.
    /// </summary>
    public async Task<bool> DeleteHeadAsync(long segmentId, Func<TSegment, bool> deletable)
    {
        if (segmentId < HeadSegment)
        {
            return true;
        }

        if (segmentId != HeadSegment)
        {
            throw new InvalidOperationException($"Segment {segmentId} is not the head, segment {HeadSegment}: only the head is deleted.");
        }

        if (!IsDeletable(HeadSegment))
        {
            return false;
        }

        var chunks = await ReadChunksAsync(HeadSegment);
        if (chunks.Count > 0)
        {
            if (!deletable(Join(HeadSegment, chunks).Segment))
            {
                return false;
            }

            for (var chunk = chunks.Count - 1; chunk >= 0; chunk--)
            {
                await store.DeleteAsync(recordName(HeadSegment, chunk), chunks[chunk].Record, chunks[chunk].ETag);
            }
        }

        _firstIds.Remove(HeadSegment);
        HeadSegment++;
        return true;
    }

    /// <summary>
    /// The segment that holds (or would hold) the entry with id <paramref name="entryId"/>: the last one whose first id
    /// is at most it, found by binary search over the segments' first ids.
    /// </summary>
    public async Task<long> SegmentOfAsync(long entryId)
    {
        if (entryId >= _tail.Segment.FirstId)
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

    /// <summary>The first segment within one round of writes after the missing <paramref name="missing"/> that exists, if any.</summary>
    private async Task<long?> NextAfterGapAsync(long missing)
    {
        var ids = Enumerable.Range(1, parallelWrites - 1).Select(i => missing + i).ToList();
        var reads = await Task.WhenAll(ids.Select(id => store.ReadAsync<TSegment>(recordName(id, 0))));
        var found = Array.FindIndex(reads, r => r.Record is not null);
        return found < 0 ? null : ids[found];
    }

    private bool IsDeletable(long segmentId) => segmentId < TailSegment && segmentId < StoredTailHint;

    private long SumBytes(IEnumerable<TEntry> entries) => entries.Sum(estimateBytes);

    private async Task<SegmentImage<TSegment, TEntry>?> ReadImageAsync(long segmentId)
    {
        if (segmentId == TailSegment)
        {
            return _tail;
        }

        if (segmentId < HeadSegment || segmentId > TailSegment)
        {
            return null;
        }

        var image = await ReadStoredAsync(segmentId);
        if (image is not null)
        {
            RememberFirstId(segmentId, image.Segment.FirstId);
        }

        return image;
    }

    /// <summary>Segment <paramref name="segmentId"/> from its records, or null when it has none.</summary>
    private async Task<SegmentImage<TSegment, TEntry>?> ReadStoredAsync(long segmentId)
    {
        var chunks = await ReadChunksAsync(segmentId);
        return chunks.Count == 0 ? null : Join(segmentId, chunks);
    }

    /// <summary>The records of segment <paramref name="segmentId"/>, in order; none when the segment does not exist.</summary>
    private async Task<List<(TSegment Record, string? ETag)>> ReadChunksAsync(long segmentId)
    {
        var chunks = new List<(TSegment Record, string? ETag)>();
        for (var chunk = 0; chunk < limits.MaxChunks; chunk++)
        {
            var (record, etag) = await store.ReadAsync<TSegment>(recordName(segmentId, chunk));
            if (record is null)
            {
                break;
            }

            chunks.Add((record, etag));
        }

        return chunks;
    }

    /// <summary>One segment from its chunk records, which must follow each other without a gap.</summary>
    private SegmentImage<TSegment, TEntry> Join(long segmentId, List<(TSegment Record, string? ETag)> chunks)
    {
        var segment = chunks.Count == 1 ? chunks[0].Record : SegmentImage<TSegment, TEntry>.Copy(chunks[0].Record);
        var chunkStart = 0;
        for (var i = 1; i < chunks.Count; i++)
        {
            var chunk = chunks[i].Record;
            var expected = SegmentImage<TSegment, TEntry>.After(segment);
            if (chunk.FirstId != expected)
            {
                throw new InvalidOperationException(
                    $"Record '{recordName(segmentId, i)}': chunk {i} of segment {segmentId} starts at id {chunk.FirstId}, not {expected}.");
            }

            chunkStart = segment.Entries.Count;
            segment.Entries.AddRange(chunk.Entries);
            segment.LastAssignedId = Math.Max(segment.LastAssignedId, chunk.LastAssignedId);
        }

        var chunkBytes = SumBytes(chunks[^1].Record.Entries);
        var bytes = chunks.Count == 1 ? chunkBytes : SumBytes(segment.Entries);
        return new SegmentImage<TSegment, TEntry>(segmentId, segment, chunks[^1].ETag, bytes, chunks.Count - 1, chunkStart, chunkBytes);
    }

    private async Task<long?> FirstIdAsync(long segmentId)
    {
        if (segmentId == TailSegment)
        {
            return _tail.Segment.FirstId;
        }

        if (_firstIds.TryGetValue(segmentId, out var first))
        {
            return first;
        }

        if (segmentId < HeadSegment || segmentId > TailSegment)
        {
            return null;
        }

        // The first record alone says where a segment starts.
        var (record, _) = await store.ReadAsync<TSegment>(recordName(segmentId, 0));
        if (record is not null)
        {
            RememberFirstId(segmentId, record.FirstId);
        }

        return record?.FirstId;
    }

    private void RememberFirstId(long segmentId, long firstId)
    {
        if (_firstIds.Count >= FirstIdsKept && !_firstIds.ContainsKey(segmentId))
        {
            _firstIds.Clear(); // bounded; the ids are read again when needed
        }

        _firstIds[segmentId] = firstId;
    }
}
