namespace OrleansQueue;

/// <summary>How a consumer is subscribed to a queue.</summary>
[GenerateSerializer, Immutable, Alias("oq.ConsumerOptions")]
public sealed record ConsumerOptions
{
    /// <summary>
    /// Most messages locked for the consumer at once (its prefetch): the ones its calls are handling and the ones the
    /// queue holds ready to push to it next. Default 10; 1 to 1,000.
    /// </summary>
    [Id(0)] public int Prefetch { get; init; } = 10;

    /// <summary>
    /// Settle from the handler's outcome (default), or leave settlement to the consumer; either way a handler call that
    /// throws fails its deliveries.
    /// </summary>
    [Id(1)] public bool AutoComplete { get; init; } = true;

    /// <summary>
    /// Most deliveries pushed in one call (1 to 1,000; default 1: one call per message). Above 1 the consumer must be an
    /// <see cref="IQueueBatchConsumer"/>, or an object subscribed from an Orleans client.
    /// </summary>
    [Id(2)] public int MaxBatchSize { get; init; } = 1;

    /// <summary>
    /// Most calls the queue makes to the consumer at once (Service Bus's name). Default 1: a plain non-reentrant grain
    /// handles one call at a time, and calls waiting in its inbox would wait out their locks. Raise it only for
    /// consumers that run calls concurrently (reentrant grains, stateless workers, client objects). 1 to 1,000.
    /// </summary>
    [Id(3)] public int MaxConcurrentCalls { get; init; } = 1;

    /// <summary>
    /// Longest a handler call may run (Service Bus's name): the queue renews the call's locks until then, and a call
    /// still running after it is a failed delivery, its messages delivered again (to another consumer when there is
    /// one) and its late result ignored; the consumer gets nothing new until that call returns. Default 30 minutes;
    /// 1 second to 12 hours.
    /// </summary>
    [Id(4)] public TimeSpan MaxAutoLockRenewalDuration { get; init; } = DefaultMaxAutoLockRenewalDuration;

    /// <summary>The default of <see cref="MaxAutoLockRenewalDuration"/>: 30 minutes.</summary>
    public static readonly TimeSpan DefaultMaxAutoLockRenewalDuration = TimeSpan.FromMinutes(30);

    /// <summary>Throws <see cref="QueueException"/> (<see cref="QueueErrorCode.InvalidArgument"/>) unless every option is in its range.</summary>
    public void Validate()
    {
        QueueLimits.ValidateCount(Prefetch, 1000, nameof(Prefetch));
        QueueLimits.ValidateCount(MaxBatchSize, 1000, nameof(MaxBatchSize));
        QueueLimits.ValidateCount(MaxConcurrentCalls, 1000, nameof(MaxConcurrentCalls));
        if (MaxAutoLockRenewalDuration < QueueLimits.MinLockDuration || MaxAutoLockRenewalDuration > QueueLimits.MaxLockDuration)
        {
            throw new QueueException(QueueErrorCode.InvalidArgument,
                $"{nameof(MaxAutoLockRenewalDuration)} {MaxAutoLockRenewalDuration} is outside {QueueLimits.MinLockDuration} to {QueueLimits.MaxLockDuration}.");
        }
    }
}
