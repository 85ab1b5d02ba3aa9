using OrleansQueue.Registry;
using OrleansQueue.Storage;
using OrleansQueue.Tests.Infrastructure;

namespace OrleansQueue.Tests.Cluster;

/// <summary>The queue registry: what it lists, when, and what happens when it is full.</summary>
public sealed class QueueRegistryTests(MemoryClusterFixture fixture) : IClassFixture<MemoryClusterFixture>
{
    private QueueTestCluster C => fixture.Cluster;

    private static string NewName(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..24];

    private Task<string[]> WithSubscribers(string queue) => C.Client.GetGrain<IQueueRegistryShard>(QueueRegistry.ShardOf(queue)).QueuesWithSubscribers();

    private async Task<QueueRegistration?> Listed(string queue)
    {
        var state = new GrainState<QueueRegistryState>();
        await C.Storage().ReadStateAsync(StateNames.Registry, C.Client.GetGrain<IQueueRegistryShard>(QueueRegistry.ShardOf(queue)).GetGrainId(), state);
        return state.State?.Queues.GetValueOrDefault(queue);
    }

    [Fact]
    public void GrainTypeNames_ArePinned_SoStoredRecordsFollowTheirGrains()
    {
        // Storage keys records by grain id: these names (what Orleans derived from the class names before they were
        // pinned) must never change.
        Assert.Equal("queue", C.Grain("pinned").GetGrainId().Type.ToString());
        Assert.Equal("deadletter", C.Client.GetGrain<IDeadLetterGrain>(0).GetGrainId().Type.ToString());
        Assert.Equal("queueregistry", C.Client.GetGrain<IQueueRegistryShard>(0).GetGrainId().Type.ToString());
    }

    [Fact]
    public void TheShardOfAName_IsStable_AndSpreadsNamesOverEveryShard()
    {
        // Stored data depends on it: these values must never change.
        Assert.Equal([44, 62, 37], new[] { "orders", "orders-dlq", "b" }.Select(QueueRegistry.ShardOf));
        var counts = Enumerable.Range(0, 64_000).GroupBy(i => QueueRegistry.ShardOf($"queue-{i}")).Select(g => g.Count()).ToList();
        Assert.Equal(QueueRegistry.Shards, counts.Count);
        Assert.InRange(counts.Min(), 800, 1000);
        Assert.InRange(counts.Max(), 1000, 1200);
    }

    [Fact]
    public async Task ASubscriberListsTheQueue_BeforeItsSubscriptionIsStored_AndItsLastUnsubscribeRemovesIt()
    {
        var name = NewName("listed");
        var queue = C.Queue(name);
        await queue.SendAsync("first");
        await queue.ConfigureAsync(new QueueSettings { MaxDeliveryCount = 5 });
        Assert.Null(await Listed(name)); // sends and settings list nothing: the registry holds what must be woken

        var consumers = new[] { NewName("reg-a"), NewName("reg-b") }.Select(c => C.Client.GetGrain<ITestConsumerGrain>(c)).ToArray();
        await queue.SubscribeAsync(consumers[0]); // the registry hears of it before the subscription is stored
        var listed = await Listed(name);
        Assert.True(listed?.HasSubscribers);
        Assert.Contains(name, await WithSubscribers(name));
        await queue.SubscribeAsync(consumers[1]);
        Assert.Equal(listed!.ListedAt, (await Listed(name))!.ListedAt);

        await C.Grain(name).Unsubscribe(consumers[0].GetGrainId());
        Assert.Contains(name, await WithSubscribers(name)); // one subscriber left
        await C.Grain(name).Unsubscribe(consumers[1].GetGrainId());
        await Wait.UntilAsync(() => Listed(name), entry => entry is null, "the queue is removed after its last unsubscribe");
    }

    [Fact]
    public async Task AFullRegistryShard_RefusesASubscriberOfANewQueue_WithQuotaExceeded_AndNothingOfItIsStored()
    {
        // Fill one shard (names chosen by their hash) up to its limit directly, then subscribe to one more queue.
        var run = Guid.NewGuid().ToString("N")[..8];
        var names = Enumerable.Range(0, 1_000_000).Select(i => $"full-{run}-{i}").Where(n => QueueRegistry.ShardOf(n) == 5).Take(QueueRegistry.MaxQueuesPerShard + 1).ToList();
        var shard = C.Client.GetGrain<IQueueRegistryShard>(5);
        var existing = (await ReadShard(5))?.Queues.Count ?? 0;
        foreach (var name in names.Take(QueueRegistry.MaxQueuesPerShard - existing))
        {
            await shard.Set(name, hasSubscribers: true);
        }

        var last = names[^1];
        var consumer = C.Client.GetGrain<ITestConsumerGrain>(NewName("reg-full"));
        var error = await Assert.ThrowsAsync<QueueException>(() => C.Queue(last).SubscribeAsync(consumer));
        Assert.Equal(QueueErrorCode.QuotaExceeded, error.Code);
        Assert.Contains("registry is full", error.Message);
        Assert.Null(await Listed(last));
        var meta = new GrainState<QueueMetaState>();
        await C.Storage().ReadStateAsync(StateNames.Meta, C.Grain(last).GetGrainId(), meta);
        Assert.False(meta.RecordExists);

        // Sends to it work (the registry lists only queues with subscribers), and a listed queue of the full shard
        // takes more subscribers.
        await C.Queue(last).SendAsync("still fine");
        await C.Queue(names[0]).SubscribeAsync(consumer);
        await C.Grain(names[0]).Unsubscribe(consumer.GetGrainId());
    }

    private async Task<QueueRegistryState?> ReadShard(int shard)
    {
        var state = new GrainState<QueueRegistryState>();
        await C.Storage().ReadStateAsync(StateNames.Registry, C.Client.GetGrain<IQueueRegistryShard>(shard).GetGrainId(), state);
        return state.State;
    }
}
