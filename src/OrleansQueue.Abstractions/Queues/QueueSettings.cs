namespace OrleansQueue;

/// <summary>
/// The settings of one queue. In <see cref="IQueueGrain.Configure"/> a <see langword="null"/> member leaves that
/// setting as it is (a queue never configured follows the silo's defaults; <see cref="IQueueGrain.ResetSettings"/>
/// returns to them); <see cref="IQueueGrain.GetSettings"/> fills every member with the effective value.
/// </summary>
[GenerateSerializer, Immutable, Alias("oq.QueueSettings")]
public sealed record QueueSettings
{
    /// <summary>How long a delivery may stay unsettled before it is delivered again (the lease of pushes and of receives that name none). 1 s to 12 h.</summary>
    [Id(0)] public TimeSpan? LockDuration { get; init; }

    /// <summary>Deliveries after which a message that still fails moves to the dead-letter grain. 1 to 1,000.</summary>
    [Id(1)] public int? MaxDeliveryCount { get; init; }

    /// <summary>When a failed message is delivered again.</summary>
    [Id(2)] public RedeliveryPolicy? Redelivery { get; init; }

    /// <summary>Full names of exception types that will never succeed: a handler throwing one dead-letters the message at once.</summary>
    [Id(3)] public IReadOnlyList<string>? FailFastExceptionTypes { get; init; }
}
