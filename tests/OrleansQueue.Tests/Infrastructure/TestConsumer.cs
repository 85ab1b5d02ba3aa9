using System.Collections.Concurrent;
using Orleans.Runtime;

namespace OrleansQueue.Tests.Infrastructure;

/// <summary>A consumer grain whose behaviour a test sets through <see cref="ConsumerScript"/> (the cluster is in-process).</summary>
[Alias("oq.tests.ITestConsumerGrain")]
public interface ITestConsumerGrain : IQueueConsumer, IGrainWithStringKey
{
    [Alias("WhereAmI")]
    Task<SiloAddress> WhereAmI();
}

[Orleans.Concurrency.Reentrant]
public sealed class TestConsumerGrain(ILocalSiloDetails silo) : Grain, ITestConsumerGrain
{
    public Task Handle(QueueDelivery delivery) => ConsumerScript.For(this.GetPrimaryKeyString()).HandleAsync(delivery, GrainFactory);

    public Task<SiloAddress> WhereAmI() => Task.FromResult(silo.SiloAddress);
}

/// <summary>A consumer grain as users write it: not reentrant, one call at a time.</summary>
[Alias("oq.tests.IPlainConsumerGrain")]
public interface IPlainConsumerGrain : IQueueConsumer, IGrainWithStringKey;

public sealed class PlainConsumerGrain : Grain, IPlainConsumerGrain
{
    public Task Handle(QueueDelivery delivery) => ConsumerScript.For(this.GetPrimaryKeyString()).HandleAsync(delivery, GrainFactory);
}

/// <summary>A batch consumer grain: records each batch's size, runs the script per delivery, reports the failures.</summary>
[Alias("oq.tests.ITestBatchConsumerGrain")]
public interface ITestBatchConsumerGrain : IQueueBatchConsumer, IGrainWithStringKey;

[Orleans.Concurrency.Reentrant]
public sealed class TestBatchConsumerGrain : Grain, ITestBatchConsumerGrain
{
    public async Task<DeliveryFailure[]?> HandleBatch(QueueDelivery[] deliveries)
    {
        var script = ConsumerScript.For(this.GetPrimaryKeyString());
        script.BatchSizes.Enqueue(deliveries.Length);
        var failures = new List<DeliveryFailure>();
        foreach (var delivery in deliveries)
        {
            try
            {
                await script.HandleAsync(delivery, GrainFactory);
            }
            catch (Exception ex)
            {
                failures.Add(DeliveryFailure.From(delivery, ex));
            }
        }

        // Each failure listed twice, as a careless consumer might: the queue must count it once.
        return [.. failures, .. failures];
    }
}

/// <summary>A handler object for Orleans clients (observer subscriptions).</summary>
public sealed class TestClientConsumer(string name, IGrainFactory factory) : IQueueConsumer
{
    public Task Handle(QueueDelivery delivery) => ConsumerScript.For(name).HandleAsync(delivery, factory);
}

/// <summary>What a named consumer does with each delivery, and what it saw.</summary>
public sealed class ConsumerScript
{
    private static readonly ConcurrentDictionary<string, ConsumerScript> Scripts = new();

    public static ConsumerScript For(string name) => Scripts.GetOrAdd(name, _ => new ConsumerScript());

    /// <summary>Runs for each delivery; throw to fail it. The default succeeds.</summary>
    public Func<QueueDelivery, IGrainFactory, Task> Behavior { get; set; } = (_, _) => Task.CompletedTask;

    public ConcurrentQueue<QueueDelivery> Deliveries { get; } = new();

    /// <summary>The size of each batch a batch consumer received.</summary>
    public ConcurrentQueue<int> BatchSizes { get; } = new();

    /// <summary>Deliveries the handler returned from normally.</summary>
    public ConcurrentQueue<QueueDelivery> Succeeded { get; } = new();

    public async Task HandleAsync(QueueDelivery delivery, IGrainFactory factory)
    {
        Deliveries.Enqueue(delivery);
        await Behavior(delivery, factory);
        Succeeded.Enqueue(delivery);
    }
}
