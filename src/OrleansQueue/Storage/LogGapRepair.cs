namespace OrleansQueue.Storage;

/// <summary>What <see cref="SegmentedLog{TSegment, TEntry}.OpenAsync"/> does with a gap that a failed append among parallel writes left before segments that landed.</summary>
internal enum LogGapRepair
{
    /// <summary>Fill it with empty segments: the ids in the gap are never used (the dead-letter log).</summary>
    FillWithEmptySegments,

    /// <summary>
    /// Delete the segments after it: their append failed, so nobody was told they are stored, and ids go on following
    /// each other without holes (the queue's sequence numbers).
    /// </summary>
    DeleteWhatFollows,
}
