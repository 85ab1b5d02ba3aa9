namespace OrleansQueue.Storage;

// What the grain storage provider serializes (JSON by default, or the Orleans serializer). Its name and members are a
// storage format: rename nothing, add members only with defaults.

/// <summary>What a queue told the queue registry about itself.</summary>
internal enum RegistryListing
{
    NotListed = 0,

    /// <summary>Listed as a queue with push subscribers: silos wake it when they start or see another die.</summary>
    WithSubscribers = 1,
}
