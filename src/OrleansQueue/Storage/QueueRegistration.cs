namespace OrleansQueue.Storage;

// What the grain storage provider serializes (JSON by default, or the Orleans serializer). Its name and members are a
// storage format: rename nothing, add members only with defaults.

/// <summary>A queue as the registry lists it.</summary>
[GenerateSerializer, Alias("oq.QueueRegistration")]
internal sealed class QueueRegistration
{
    /// <summary>When the registry first listed the queue (this time).</summary>
    [Id(0)] public DateTimeOffset ListedAt { get; set; }
    /// <summary>Whether the queue has push subscribers: a silo that starts, or sees another die, wakes it.</summary>
    [Id(1)] public bool HasSubscribers { get; set; }
}
