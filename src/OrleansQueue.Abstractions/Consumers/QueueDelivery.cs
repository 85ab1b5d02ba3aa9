namespace OrleansQueue;

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

    /// <summary>When the lock ends unless renewed (the queue renews it while the handler call runs).</summary>
    [Id(3)] public required DateTimeOffset LockedUntil { get; init; }

    /// <summary>Whether the queue settles the delivery from the handler's outcome.</summary>
    [Id(4)] public bool AutoComplete { get; init; }
}
