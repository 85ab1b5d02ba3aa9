namespace OrleansQueue.Storage;

// What the grain storage provider serializes (JSON by default, or the Orleans serializer). Its name and members are a
// storage format: rename nothing, add members only with defaults.

/// <summary>A consumer subscribed to the queue.</summary>
[GenerateSerializer, Alias("oq.SubscriptionRecord")]
internal sealed class SubscriptionRecord
{
    /// <summary>The consumer's <c>GrainId</c> (a grain, or an observer in an Orleans client).</summary>
    [Id(0)] public string Consumer { get; set; } = "";
    [Id(1)] public int Prefetch { get; set; }
    [Id(2)] public bool AutoComplete { get; set; }
    /// <summary>Client observers must renew their subscription before this time; grains need not (null).</summary>
    [Id(3)] public DateTimeOffset? ExpiresAt { get; set; }
    /// <summary>Most deliveries per push call; 0 (records written before batches existed) means 1.</summary>
    [Id(4)] public int MaxBatchSize { get; set; }
    /// <summary>Most push calls at once; 0 (records written before the option existed) means 1.</summary>
    [Id(5)] public int MaxConcurrentCalls { get; set; }
    /// <summary>Longest a push call may run; null (records written before the option existed) means the default.</summary>
    [Id(6)] public TimeSpan? MaxAutoLockRenewalDuration { get; set; }
}
