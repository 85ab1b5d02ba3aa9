using System.Collections.Concurrent;

namespace OrleansQueue.Tests.Compat;

/// <summary>
/// The push consumer of the compatibility fixtures. Its grain type is pinned: the fixtures store its grain id
/// (<c>compat-consumer/worker-1</c>) in a subscription record, so renaming or moving this class must not change it.
/// </summary>
[Alias("oq.tests.ICompatConsumerGrain")]
public interface ICompatConsumerGrain : IQueueConsumer, IGrainWithStringKey;

[GrainType(GrainTypeName)]
public sealed class CompatConsumerGrain : Grain, ICompatConsumerGrain
{
    public const string GrainTypeName = "compat-consumer";

    /// <summary>What the writer's consumer does: bodies starting with <c>poison</c> throw a fail-fast exception, <c>retry</c> a plain one.</summary>
    public static volatile bool FailAsScripted;

    /// <summary>Every delivery handled (the compat tests run one at a time: clear it before each).</summary>
    public static ConcurrentQueue<QueueDelivery> Deliveries { get; } = new();

    public Task Handle(QueueDelivery delivery)
    {
        Deliveries.Enqueue(delivery);
        var body = delivery.Message.BodyAsString();
        if (FailAsScripted && body.StartsWith("poison", StringComparison.Ordinal))
        {
            throw new FormatException($"cannot parse '{body}'");
        }

        if (FailAsScripted && body.StartsWith("retry", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"'{body}' failed, try later");
        }

        return Task.CompletedTask;
    }
}
