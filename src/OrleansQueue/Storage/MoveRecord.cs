namespace OrleansQueue.Storage;

// What the grain storage provider serializes (JSON by default, or the Orleans serializer). Its name and members are a
// storage format: rename nothing, add members only with defaults.

/// <summary>A move to the dead-letter grain in progress: stored before the move, removed after it.</summary>
[GenerateSerializer, Alias("oq.MoveRecord")]
internal sealed class MoveRecord
{
    [Id(0)] public long Seq { get; set; }
    /// <summary>Makes the move idempotent: the dead-letter grain stores one entry per move id.</summary>
    [Id(1)] public Guid MoveId { get; set; }
    [Id(2)] public DeadLetterReason Reason { get; set; }
    [Id(3)] public string? Description { get; set; }
    [Id(4)] public DateTimeOffset At { get; set; }
}
