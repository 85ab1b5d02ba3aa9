namespace OrleansQueue;

/// <summary>A message locked for one receiver until <see cref="LockedUntil"/>.</summary>
/// <remarks>Settle it with <see cref="LockToken"/>: complete, abandon or dead-letter it, or renew the lock.</remarks>
[GenerateSerializer, Immutable, Alias("oq.ReceivedMessage")]
public sealed record ReceivedMessage
{
    /// <summary>The message.</summary>
    [Id(0)] public required QueueMessage Message { get; init; }

    /// <summary>Identifies this delivery of the message; a token from an earlier delivery is rejected.</summary>
    [Id(1)] public required Guid LockToken { get; init; }

    /// <summary>
    /// When the lock ends unless renewed; then the delivery has failed, and the message is delivered again by the
    /// queue's redelivery policy (or dead-lettered after its maximum number of deliveries).
    /// </summary>
    [Id(2)] public required DateTimeOffset LockedUntil { get; init; }
}
