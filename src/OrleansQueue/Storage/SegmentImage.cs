namespace OrleansQueue.Storage;

/// <summary>
/// One segment of a <see cref="SegmentedLog{TSegment, TEntry}"/> as stored, or as an append will store it: the whole
/// <see cref="Segment"/> (every chunk), <see cref="Bytes"/> its estimated size, and its last chunk record, number
/// <see cref="Chunk"/>, holding the entries from <see cref="ChunkStart"/> on (<see cref="ChunkBytes"/> estimated), at
/// version <see cref="ETag"/> (null: a record not written yet). Only that last chunk is ever written by an append. A log
/// of single-record segments has chunk 0 from entry 0 only. Never changed once a log or an append handed it out.
/// </summary>
internal sealed record SegmentImage<TSegment, TEntry>(long Id, TSegment Segment, string? ETag, long Bytes, int Chunk = 0, int ChunkStart = 0, long ChunkBytes = 0)
    where TSegment : class, ILogSegment<TEntry>, new()
    where TEntry : ILogEntry
{
    /// <summary>An empty segment <paramref name="id"/> whose first entry will have id <paramref name="firstId"/>, not stored.</summary>
    public static SegmentImage<TSegment, TEntry> Empty(long id, long firstId) =>
        new(id, new TSegment { FirstId = firstId, LastAssignedId = firstId - 1 }, null, 0);

    /// <summary>The id after the highest one the segment ever held.</summary>
    public long NextId => After(Segment);

    /// <summary>The record of the last chunk: what a write of this image stores.</summary>
    public TSegment ChunkRecord()
    {
        if (Chunk == 0)
        {
            return Segment;
        }

        var entries = Segment.Entries;
        return new TSegment
        {
            FirstId = ChunkStart < entries.Count ? entries[ChunkStart].LogId : After(Segment),
            Entries = entries.GetRange(ChunkStart, entries.Count - ChunkStart),
            LastAssignedId = Segment.LastAssignedId,
        };
    }

    /// <summary>The id after the highest one <paramref name="segment"/> ever held.</summary>
    internal static long After(TSegment segment) =>
        Math.Max(segment.LastAssignedId, Math.Max(segment.Entries.Count > 0 ? segment.Entries[^1].LogId : 0, segment.FirstId - 1)) + 1;

    internal static TSegment Copy(TSegment segment) =>
        new() { FirstId = segment.FirstId, Entries = [.. segment.Entries], LastAssignedId = segment.LastAssignedId };
}
