namespace OrleansQueue.Storage;

/// <summary>
/// The grain type names of OrleansQueue's grains, pinned: storage keys records by grain id (type and key), so a grain
/// class that is renamed or moved must keep its name here or its stored queues are orphaned. These are the names
/// Orleans derived from the class names before they were pinned.
/// </summary>
internal static class GrainTypes
{
    public const string Queue = "queue";

    public const string DeadLetters = "deadletter";

    public const string QueueRegistry = "queueregistry";
}
