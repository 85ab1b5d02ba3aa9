namespace OrleansQueue.Storage;

// Removing from a segmented log: entries out of their segments, and whole segments at the head.
internal sealed partial class SegmentedLog<TSegment, TEntry>
{
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

            await DeleteChunksAsync(HeadSegment, chunks);
        }

        _firstIds.Remove(HeadSegment);
        HeadSegment++;
        return true;
    }

    /// <summary>
    /// Deletes every segment from the tail down to the head, <paramref name="parallel"/> at once (each one's chunks
    /// the last first). A delete cut short leaves some of them, possibly with holes between: opening the log again
    /// from the same cursor and deleting again finishes the job (segments gone already count as deleted). The log is
    /// empty afterwards; its owner drops it.
    /// </summary>
    public async Task DeleteAllAsync(int parallel)
    {
        for (var top = TailSegment; top >= HeadSegment; top -= parallel)
        {
            var round = new List<Task>();
            for (var id = top; id > top - parallel && id >= HeadSegment; id--)
            {
                round.Add(DeleteSegmentAsync(id));
            }

            await Task.WhenAll(round);
        }

        _firstIds.Clear();
        HeadSegment = TailSegment + 1;

        async Task DeleteSegmentAsync(long id) => await DeleteChunksAsync(id, await ReadChunksAsync(id));
    }

    private bool IsDeletable(long segmentId) => segmentId < TailSegment && segmentId < StoredTailHint;
}
