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
    public async Task ASend_ListsTheQueue_ASubscriberMarksIt_AndItsLastUnsubscribeUnmarksIt()
    {
        var name = NewName("listed");
        var queue = C.Queue(name);
        Assert.Null(await Listed(name));
        await queue.GetStatsAsync(); // reading lists nothing
        Assert.Null(await Listed(name));

        await queue.SendAsync("first");
        var listed = await Listed(name);
        Assert.NotNull(listed);
        Assert.False(listed.HasSubscribers);
        Assert.DoesNotContain(name, await WithSubscribers(name));

        var consumer = C.Client.GetGrain<ITestConsumerGrain>(NewName("reg-consumer"));
        await queue.SubscribeAsync(consumer); // the registry hears of it before the subscription is stored
        Assert.Contains(name, await WithSubscribers(name));
        Assert.Equal(listed.CreatedAt, (await Listed(name))!.CreatedAt);

        await C.Grain(name).Unsubscribe(consumer.GetGrainId());
        await Wait.UntilAsync(() => WithSubscribers(name), names => !names.Contains(name), "the queue is unmarked after its last unsubscribe");
        Assert.NotNull(await Listed(name)); // still listed: it still exists
    }

    [Fact]
    public async Task AFullRegistryShard_RefusesANewQueue_WithQuotaExceeded_AndNothingOfItIsStored()
    {
        // Fill one shard (names chosen by their hash) up to its limit directly, then try to create one more queue.
        var run = Guid.NewGuid().ToString("N")[..8];
        var names = Enumerable.Range(0, 1_000_000).Select(i => $"full-{run}-{i}").Where(n => QueueRegistry.ShardOf(n) == 5).Take(QueueRegistry.MaxQueuesPerShard + 1).ToList();
        var shard = C.Client.GetGrain<IQueueRegistryShard>(5);
        var existing = (await ReadShard(5))?.Queues.Count ?? 0;
        foreach (var name in names.Take(QueueRegistry.MaxQueuesPerShard - existing))
        {
            await shard.Set(name, hasSubscribers: false);
        }

        var last = names[^1];
        var error = await Assert.ThrowsAsync<QueueException>(() => C.Queue(last).SendAsync("one too many"));
        Assert.Equal(QueueErrorCode.QuotaExceeded, error.Code);
        Assert.Contains("registry is full", error.Message);
        Assert.Null(await Listed(last));
        var meta = new GrainState<QueueMetaState>();
        await C.Storage().ReadStateAsync(StateNames.Meta, C.Grain(last).GetGrainId(), meta);
        Assert.False(meta.RecordExists);
        Assert.Equal(0, (await C.Queue(last).GetStatsAsync()).ActiveCount);

        // A queue already listed in the full shard goes on working.
        await C.Queue(names[0]).SendAsync("still fine");
    }

    private async Task<QueueRegistryState?> ReadShard(int shard)
    {
        var state = new GrainState<QueueRegistryState>();
        await C.Storage().ReadStateAsync(StateNames.Registry, C.Client.GetGrain<IQueueRegistryShard>(shard).GetGrainId(), state);
        return state.State;
    }
}
