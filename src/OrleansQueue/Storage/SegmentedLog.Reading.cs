namespace OrleansQueue.Storage;

// Reading a segmented log: one segment, a scan by id, a run of segments, the segments holding given ids.
internal sealed partial class SegmentedLog<TSegment, TEntry>
{
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
}
