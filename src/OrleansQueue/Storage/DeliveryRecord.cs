namespace OrleansQueue.Storage;

// What the grain storage provider serializes (JSON by default, or the Orleans serializer). Its name and members are a
// storage format: rename nothing, add members only with defaults.

/// <summary>Delivery state of one message in the active window that has been delivered at least once.</summary>
[GenerateSerializer, Alias("oq.DeliveryRecord")]
internal sealed class DeliveryRecord
{
    [Id(0)] public long Seq { get; set; }
    [Id(1)] public int Count { get; set; }
    /// <summary>The open lease's token, or null when the message is ready again.</summary>
    [Id(2)] public Guid? Token { get; set; }
    [Id(3)] public DateTimeOffset? LockedUntil { get; set; }
    /// <summary>A failed message is not delivered again before this time (redelivery policy).</summary>
    [Id(4)] public DateTimeOffset? NotBefore { get; set; }
    /// <summary>Start of the most recent delivery attempts, Unix milliseconds.</summary>
    [Id(5)] public List<long>? Attempts { get; set; }
    [Id(6)] public string? ErrorType { get; set; }
    [Id(7)] public string? ErrorMessage { get; set; }
    /// <summary>
    /// A decided move to the dead-letter grain waiting for room (the queue's pending moves are at their maximum): it
    /// starts when <see cref="NotBefore"/> comes or room frees up. Null in records written before it existed.
    /// </summary>
    [Id(8)] public DeadLetterReason? DeferredMove { get; set; }
    [Id(9)] public string? DeferredDescription { get; set; }
}
