namespace OrleansQueue.Storage;

// What the grain storage provider serializes (JSON by default, or the Orleans serializer). Its name and members are a
// storage format: rename nothing, add members only with defaults.

/// <summary>The record of one queue registry shard, state name <c>oq-registry</c>: at most <c>QueueRegistry.MaxQueuesPerShard</c> queues.</summary>
[GenerateSerializer, Alias("oq.QueueRegistryState")]
internal sealed class QueueRegistryState
{
    [Id(0)] public Dictionary<string, QueueRegistration> Queues { get; set; } = [];
}
