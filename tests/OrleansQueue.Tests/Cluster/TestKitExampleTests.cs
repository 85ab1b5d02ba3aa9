using OrleansQueue.TestKit;

namespace OrleansQueue.Tests.Cluster;

/// <summary>The example of docs/testing.md, as written there (less the example's own service), so it keeps compiling and passing.</summary>
public sealed class TestKitExampleTests : IAsyncLifetime
{
    private OrleansQueueTestCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await OrleansQueueTestCluster.StartAsync(o =>
    {
        o.ConfigureQueues = queues => queues.DefaultLockDuration = TimeSpan.FromSeconds(30);
    });

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task AnExpiredLock_DeliversTheMessageAgain()
    {
        QueueClient queue = _cluster.GetQueue("orders");
        await queue.SendAsync("order-1");

        var first = Assert.Single(await queue.ReceiveAsync(1));
        _cluster.Time.Advance(TimeSpan.FromSeconds(31));            // the lock runs out

        var again = Assert.Single(await queue.ReceiveAsync(1));
        Assert.Equal(2, again.Message.DeliveryCount);
    }

    [Fact]
    public async Task ARejectedOrder_EndsInTheDeadLetterStore()
    {
        QueueClient queue = _cluster.GetQueue("orders-rejected");
        await queue.SendAsync("not an order");
        var delivery = Assert.Single(await queue.ReceiveAsync(1));
        await queue.DeadLetterAsync(delivery, reason: "InvalidOrder", description: "no order id");

        var entries = await OrleansQueueTestCluster.WaitUntilAsync(() => _cluster.DeadLettersOfAsync("orders-rejected"), e => e.Count > 0); // moved in the background
        var entry = Assert.Single(entries);
        Assert.Equal("InvalidOrder", entry.ConsumerReason);
    }
}
