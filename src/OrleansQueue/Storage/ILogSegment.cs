namespace OrleansQueue.Storage;

/// <summary>An entry of a <see cref="SegmentedLog{TSegment, TEntry}"/>: its id, ascending along the log and never reused.</summary>
internal interface ILogEntry
{
    long LogId { get; }
}

/// <summary>
/// One segment record of a <see cref="SegmentedLog{TSegment, TEntry}"/>: a bounded run of entries in id order. Removed
/// entries leave holes; the first id and the highest id ever held stay, so ids are never handed out again. The storage
/// record types implement it explicitly, so their stored form does not change.
/// </summary>
internal interface ILogSegment<TEntry>
    where TEntry : ILogEntry
{
    /// <summary>The id of the segment's first entry when it was started; no entry of an earlier segment has an id this high.</summary>
    long FirstId { get; set; }

    List<TEntry> Entries { get; set; }

    /// <summary>
    /// The highest id this segment ever held (kept when entries are removed); 0 when the record does not say. A segment
    /// type whose entries are never removed one by one may derive it from its entries and ignore what is set.
    /// </summary>
    long LastAssignedId { get; set; }
}
