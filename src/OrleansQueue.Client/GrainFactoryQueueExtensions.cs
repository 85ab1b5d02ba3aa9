using Orleans.Runtime;
using Orleans.Runtime.Messaging;

namespace OrleansQueue;

/// <summary>Gets <see cref="QueueClient"/> handles from an <see cref="IGrainFactory"/> (an <c>IClusterClient</c> or a grain's factory).</summary>
public static class GrainFactoryQueueExtensions
{
    /// <summary>Returns a handle on the queue named <paramref name="name"/>; throws <see cref="QueueException"/> for an invalid name.</summary>
    public static QueueClient GetQueue(this IGrainFactory grainFactory, string name, QueueClientOptions? options = null) =>
        new(grainFactory, name, options ?? new QueueClientOptions());

    /// <summary>Returns a handle on the cluster-wide dead-letter grain.</summary>
    public static DeadLetterClient GetDeadLetters(this IGrainFactory grainFactory) => new(grainFactory);
}
