namespace OrleansQueue.Retention;

/// <summary>
/// The completed segments below the head that a queue keeps for duplicate detection, from
/// <see cref="RetainedFrom"/> (the oldest not deleted) on, and when each may be deleted: once out of the
/// duplicate-detection window (by age or by the id cap) and below the durable head, oldest first. It does no I/O:
/// <see cref="SegmentCleaner"/> deletes and reports back.
/// </summary>
internal sealed class SegmentRetention(long retainedFrom, long durableHeadSegment, TimeSpan dedupWindow, int dedupMaxIds)
{
    /// <summary>The queue's duplicate-detection window: completed segments are kept while their ids are in it.</summary>
    public TimeSpan DedupWindow
    {
        get => dedupWindow;
        set => dedupWindow = value;
    }

    private readonly List<RetainedSegment> _retained = [];

    /// <summary>The oldest segment not deleted.</summary>
    public long RetainedFrom { get; private set; } = retainedFrom;

    /// <summary>The head as the last durably written cursor record has it; segments below it may be deleted.</summary>
    public long DurableHeadSegment { get; private set; } = durableHeadSegment;

    /// <summary>The retained segments known in memory, by id.</summary>
    public IReadOnlyList<RetainedSegment> Segments => _retained;

    /// <summary>Records that a cursor with this head is durably stored.</summary>
    public void CursorWritten(long headSegment) => DurableHeadSegment = Math.Max(DurableHeadSegment, headSegment);

    /// <summary>Keeps a segment the window's head just left (ids arrive in order).</summary>
    public void Retain(RetainedSegment segment) => _retained.Add(segment);

    /// <summary>Records a segment read from storage below the head (its ETag is needed to delete it).</summary>
    public void AddRead(RetainedSegment segment, long headSegment)
    {
        if (segment.Id >= RetainedFrom && segment.Id < headSegment && Get(segment.Id) is null)
        {
            _retained.Add(segment);
            _retained.Sort((a, b) => a.Id.CompareTo(b.Id));
        }
    }

    /// <summary>
    /// The retained segments that may be deleted now, oldest first, contiguous from <see cref="RetainedFrom"/>. Only
    /// below the durable head: a reload from the stored cursor must find every segment from its head on.
    /// </summary>
    public IEnumerable<long> Deletable(DateTimeOffset now, long headSegment, long nextSeq)
    {
        var known = _retained.ToDictionary(r => r.Id);
        for (var id = RetainedFrom; id < Math.Min(headSegment, DurableHeadSegment); id++)
        {
            if (!known.TryGetValue(id, out var r))
            {
                yield return id; // not in memory (purged before loading): the cleaner reads it to decide
                yield break;
            }

            var expired = dedupWindow <= TimeSpan.Zero
                || r.LastEnqueuedAt < now - dedupWindow
                || nextSeq - 1 - r.LastSeq >= dedupMaxIds;
            if (!expired)
            {
                yield break;
            }

            yield return id;
        }
    }

    public RetainedSegment? Get(long id)
    {
        // Sorted by id: a binary search, as cleanup asks for each segment it deletes.
        int lo = 0, hi = _retained.Count - 1;
        while (lo <= hi)
        {
            var mid = lo + (hi - lo) / 2;
            var found = _retained[mid];
            if (found.Id == id)
            {
                return found;
            }

            (lo, hi) = found.Id < id ? (mid + 1, hi) : (lo, mid - 1);
        }

        return null;
    }

    /// <summary>Records that segment <paramref name="id"/>, the oldest retained, is deleted.</summary>
    public void Deleted(long id)
    {
        if (id != RetainedFrom)
        {
            throw new InvalidOperationException($"Segment {id} is not the oldest retained ({RetainedFrom}).");
        }

        if (_retained.Count > 0 && _retained[0].Id == id)
        {
            _retained.RemoveAt(0); // the oldest, first in id order: no scan of the list
        }

        RetainedFrom++;
    }
}
