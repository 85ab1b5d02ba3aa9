namespace OrleansQueue.Storage;

// What the grain storage provider serializes (JSON by default, or the Orleans serializer). Its name and members are a
// storage format: rename nothing, add members only with defaults.

/// <summary>The dead-letter grain's cursor: <c>oq-dl-meta</c>.</summary>
[GenerateSerializer, Alias("oq.DeadLetterMeta")]
internal sealed class DeadLetterMeta
{
    [Id(0)] public long HeadSegment { get; set; }
    [Id(1)] public long TailSegment { get; set; }
    /// <summary>Counts include every entry with an id up to here; newer ones are counted when found.</summary>
    [Id(2)] public long CountedThrough { get; set; }
    [Id(3)] public Dictionary<DeadLetterReason, long> CountByReason { get; set; } = [];
    [Id(4)] public Dictionary<string, long> CountBySourceQueue { get; set; } = [];
    /// <summary>Deletions recorded (and counted) but perhaps not yet applied to the segments.</summary>
    [Id(5)] public List<long> PendingDeletes { get; set; } = [];
    /// <summary>
    /// The id the next entry gets, as of this record (entries added since are found past <see cref="TailSegment"/>);
    /// ids are never handed out twice. 0 in records written before it existed.
    /// </summary>
    [Id(6)] public long NextEntryId { get; set; }
}
