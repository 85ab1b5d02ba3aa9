namespace OrleansQueue.Storage;

// A segmented log's records: reading a segment from its chunk records, the first-id cache, finding past gaps.
internal sealed partial class SegmentedLog<TSegment, TEntry>
{
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

    /// <summary>
    /// Deletes segment <paramref name="first"/> and those after it within one round of writes: segments an append
    /// wrote beside one that failed, after a gap. The highest first, each chunk record the last first, so that a delete
    /// cut short leaves segments still after the gap, found and deleted at the next opening.
    /// </summary>
    private async Task DeleteAfterGapAsync(long first)
    {
        for (var id = first + Math.Max(1, parallelWrites) - 1; id >= first; id--)
        {
            await DeleteChunksAsync(id, await ReadChunksAsync(id));
            _firstIds.Remove(id);
        }
    }

    /// <summary>Deletes a segment's chunk records, the last first: a delete cut short leaves a shorter segment, never a chunk without the record that leads to it.</summary>
    private async Task DeleteChunksAsync(long segmentId, List<(TSegment Record, string? ETag)> chunks)
    {
        for (var chunk = chunks.Count - 1; chunk >= 0; chunk--)
        {
            await store.DeleteAsync(recordName(segmentId, chunk), chunks[chunk].Record, chunks[chunk].ETag);
        }
    }

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
