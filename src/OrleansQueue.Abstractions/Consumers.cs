namespace OrleansQueue;

/// <summary>
/// A consumer that a queue pushes messages to: a grain implementing this interface, or an object in an Orleans client
/// (see <see cref="QueueClient.SubscribeAsync"/>). Subscribe it with <see cref="IQueueGrain.Subscribe"/>.
/// </summary>
/// <remarks>
/// With auto-complete, returning normally completes the message and throwing makes it a failed delivery (redelivered
/// by the queue's policy, or dead-lettered). With manual settlement, settle later with
/// <see cref="QueueDelivery.LockToken"/> through the queue: complete, abandon, dead-letter or renew the lock.
/// While the call runs the queue keeps extending the lease; the call itself is bounded by the Orleans response timeout
/// (30 s by default): a handler that takes longer should settle manually.
/// </remarks>
[Alias("oq.IQueueConsumer")]
public interface IQueueConsumer : IGrainObserver
{
    /// <summary>Handles one delivery.</summary>
    [Alias("Handle")]
    Task Handle(QueueDelivery delivery);
}

/// <summary>One pushed delivery of a message.</summary>
[GenerateSerializer, Immutable, Alias("oq.QueueDelivery")]
public sealed record QueueDelivery
{
    /// <summary>The queue the message comes from.</summary>
    [Id(0)] public required string QueueName { get; init; }

    /// <summary>The message, with its delivery count.</summary>
    [Id(1)] public required QueueMessage Message { get; init; }

    /// <summary>Settles this delivery; a token from an earlier delivery is rejected.</summary>
    [Id(2)] public required Guid LockToken { get; init; }

    /// <summary>When the lease ends unless renewed (the queue renews it while the handler call runs).</summary>
    [Id(3)] public required DateTimeOffset LockedUntil { get; init; }

    /// <summary>Whether the queue settles the delivery from the handler's outcome.</summary>
    [Id(4)] public bool AutoComplete { get; init; }
}

/// <summary>How a consumer is subscribed to a queue.</summary>
[GenerateSerializer, Immutable, Alias("oq.ConsumerOptions")]
public sealed record ConsumerOptions
{
    /// <summary>Most unsettled deliveries the consumer holds at once (its prefetch window). Default 10; 1 to 1,000.</summary>
    [Id(0)] public int Prefetch { get; init; } = 10;

    /// <summary>Settle from the handler's outcome (default), or leave settlement to the consumer.</summary>
    [Id(1)] public bool AutoComplete { get; init; } = true;

    /// <summary>Throws <see cref="QueueException"/> unless the prefetch is between 1 and 1,000.</summary>
    public void Validate() => QueueLimits.ValidateCount(Prefetch, 1000, nameof(Prefetch));
}
