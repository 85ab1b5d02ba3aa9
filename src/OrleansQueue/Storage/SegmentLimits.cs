namespace OrleansQueue.Storage;

/// <summary>
/// How much one segment of a <see cref="SegmentedLog{TSegment, TEntry}"/> holds, and how it is stored: another entry
/// while it has fewer than <paramref name="MaxEntries"/> and stays within <paramref name="MaxBytes"/> (estimated); an
/// empty segment takes any entry.
/// </summary>
internal sealed record SegmentLimits(int MaxEntries, long MaxBytes)
{
    /// <summary>
    /// A segment that an append is already writing may take up to this many times <see cref="MaxEntries"/> (never
    /// more than <see cref="MaxBytes"/>), so an append that crosses the count needs no second write; a segment that is
    /// full before an append starts takes nothing more. 1 (the default): a hard count.
    /// </summary>
    public int Stretch { get; init; } = 1;

    /// <summary>
    /// Null (the default): each segment is one record, rewritten whole by an append. Otherwise each segment is a run
    /// of chunk records (chunk 0 first): an append rewrites the last chunk while it holds fewer than this many entries
    /// (and less than <see cref="ChunkMaxBytes"/>), and starts a new chunk record after that, so an append rewrites at
    /// most this many earlier entries instead of the whole segment.
    /// </summary>
    public int? ChunkMaxEntries { get; init; }

    /// <summary>Whether segments are stored as chunk records (<see cref="ChunkMaxEntries"/> is set).</summary>
    public bool Chunked => ChunkMaxEntries is not null;

    /// <summary>The chunk bound in estimated bytes: the segment's byte limit in proportion to a chunk's entries.</summary>
    public long ChunkMaxBytes => ChunkMaxEntries is { } entries ? Math.Max(1, MaxBytes * entries / MaxEntries) : MaxBytes;

    /// <summary>Most chunk records a segment can have: every chunk but the last starts while the segment is below its count.</summary>
    public int MaxChunks => Chunked ? MaxEntries + 1 : 1;
}
