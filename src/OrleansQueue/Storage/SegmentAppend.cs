namespace OrleansQueue.Storage;

/// <summary>
/// The plan of one append to a <see cref="SegmentedLog{TSegment, TEntry}"/>, made without I/O: entries are added one
/// at a time, each to the segment it fits in (the tail while it has room, then new segments, within the log's
/// <see cref="SegmentLimits"/>), and <see cref="Writes"/> says what to store: one write per segment touched, of that
/// segment's last chunk. The log stores it with <see cref="SegmentedLog{TSegment, TEntry}.WriteAsync"/>.
/// </summary>
internal sealed class SegmentAppend<TSegment, TEntry>
    where TSegment : class, ILogSegment<TEntry>, new()
    where TEntry : ILogEntry
{
    private readonly SegmentLimits _limits;
    private readonly List<SegmentImage<TSegment, TEntry>> _done = [];
    private SegmentImage<TSegment, TEntry> _current;
    private readonly long _firstId;
    private long _bytes;
    private long _chunkBytes;
    private long _lastId;
    private bool _changed;

    /// <summary>An append after <paramref name="tail"/>, the log's tail as stored; the first entry's id is at least <paramref name="nextId"/>.</summary>
    public SegmentAppend(SegmentImage<TSegment, TEntry> tail, SegmentLimits limits, long nextId)
    {
        _limits = limits;
        var count = tail.Segment.Entries.Count;
        var newChunk = limits.ChunkMaxEntries is { } chunkMax && count > tail.ChunkStart
            && (count - tail.ChunkStart >= chunkMax || tail.ChunkBytes >= limits.ChunkMaxBytes);
        _current = newChunk
            ? tail with { Segment = SegmentImage<TSegment, TEntry>.Copy(tail.Segment), Chunk = tail.Chunk + 1, ChunkStart = count, ChunkBytes = 0, ETag = null }
            : tail with { Segment = SegmentImage<TSegment, TEntry>.Copy(tail.Segment) };
        (_bytes, _chunkBytes) = (tail.Bytes, _current.ChunkBytes);
        _firstId = nextId;
        _lastId = nextId - 1;
    }

    /// <summary>The segment the last entry went to (at first, the tail).</summary>
    public long SegmentId => _current.Id;

    /// <summary>
    /// Adds <paramref name="entry"/> (<paramref name="bytes"/> estimated; ids ascending, from the log's next id on) and
    /// returns the id of the segment it goes to. The entry object is stored as it is when the append is written.
    /// </summary>
    public long Add(TEntry entry, long bytes)
    {
        if (entry.LogId <= _lastId)
        {
            throw new ArgumentException($"Entry ids must ascend from {_firstId} on; {entry.LogId} follows {_lastId}.", nameof(entry));
        }

        var segment = _current.Segment;
        var maxEntries = _changed ? _limits.Stretch * _limits.MaxEntries : _limits.MaxEntries;
        if (segment.Entries.Count > 0 && (segment.Entries.Count >= maxEntries || _bytes + bytes > _limits.MaxBytes))
        {
            if (_changed)
            {
                _done.Add(Current());
            }

            _current = SegmentImage<TSegment, TEntry>.Empty(_current.Id + 1, entry.LogId);
            segment = _current.Segment;
            (_bytes, _chunkBytes) = (0, 0);
        }

        segment.Entries.Add(entry);
        segment.LastAssignedId = entry.LogId;
        _bytes += bytes;
        _chunkBytes += bytes;
        _lastId = entry.LogId;
        _changed = true;
        return _current.Id;
    }

    /// <summary>The segments to write, in id order, as they will be once written (read it once every entry is added).</summary>
    public IReadOnlyList<SegmentImage<TSegment, TEntry>> Writes => _changed ? [.. _done, Current()] : [];

    private SegmentImage<TSegment, TEntry> Current() => _current with { Bytes = _bytes, ChunkBytes = _chunkBytes };
}
