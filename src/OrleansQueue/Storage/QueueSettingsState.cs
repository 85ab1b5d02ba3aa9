namespace OrleansQueue.Storage;

// What the grain storage provider serializes (JSON by default, or the Orleans serializer). Its name and members are a
// storage format: rename nothing, add members only with defaults.

/// <summary>Per-queue settings; null members keep the silo's defaults.</summary>
[GenerateSerializer, Alias("oq.QueueSettingsState")]
internal sealed class QueueSettingsState
{
    /// <summary>The queue's lock duration (the stored name predates the word).</summary>
    [Id(0)] public TimeSpan? AckDeadline { get; set; }
    [Id(1)] public int? MaxDeliveryCount { get; set; }
    [Id(2)] public RedeliveryMode? RedeliveryMode { get; set; }
    [Id(3)] public TimeSpan? RedeliveryDelay { get; set; }
    [Id(4)] public TimeSpan? RedeliveryMaxDelay { get; set; }
    [Id(5)] public double? RedeliveryJitter { get; set; }
    [Id(6)] public List<string>? FailFastExceptionTypes { get; set; }
    [Id(7)] public TimeSpan? DuplicateDetectionWindow { get; set; }
    [Id(8)] public long? MaxLength { get; set; }
    [Id(9)] public QueueOverflow? Overflow { get; set; }
    [Id(10)] public long? MaxLengthBytes { get; set; }
    [Id(11)] public TimeSpan? DefaultMessageTimeToLive { get; set; }
    [Id(12)] public bool? DeadLetterOnMessageExpiration { get; set; }

    /// <summary>Created with fixed settings (every member set): they never change.</summary>
    [Id(13)] public bool? Fixed { get; set; }
}
