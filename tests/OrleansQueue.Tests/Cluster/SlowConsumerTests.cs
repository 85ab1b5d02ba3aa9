using System.Collections.Concurrent;
using Orleans.Configuration;
using OrleansQueue.Tests.Infrastructure;

namespace OrleansQueue.Tests.Cluster;

/// <summary>A memory-storage cluster whose Orleans response timeout is one second, so handlers can be slower than it.</summary>
public sealed class ShortResponseTimeoutClusterFixture : QueueClusterFixture
{
    public static readonly TimeSpan ResponseTimeout = TimeSpan.FromSeconds(1);

    protected override void ConfigureSilo(ISiloBuilder silo) =>
        silo.Configure<SiloMessagingOptions>(o => o.ResponseTimeout = ResponseTimeout);

    protected override Task<StorageSetup> CreateStorageAsync() => Task.FromResult(new StorageSetup(StorageKind.Memory));
}

/// <summary>
/// Consumers that take their time: plain (non-reentrant) grains with a prefetch, handlers slower than Orleans'
/// response timeout, handlers that run for (fake) minutes, and handlers that hang.
/// </summary>
public sealed class SlowConsumerTests(ShortResponseTimeoutClusterFixture fixture) : IClassFixture<ShortResponseTimeoutClusterFixture>
{
    private QueueTestCluster C => fixture.Cluster;

    private static string NewName(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..24];

    private static readonly TimeSpan Slow = ShortResponseTimeoutClusterFixture.ResponseTimeout * 1.3;

    private static void AssertEachHandledOnce(ConsumerScript script, IEnumerable<string> ids)
    {
        var handled = script.Succeeded.GroupBy(d => d.Message.MessageId).ToDictionary(g => g.Key, g => g.Count());
        Assert.All(ids, id => Assert.Equal(1, handled.GetValueOrDefault(id)));
        Assert.All(script.Deliveries, d => Assert.Equal(1, d.Message.DeliveryCount));
    }

    [Fact]
    public async Task PlainGrain_Prefetch20_HandlerSlowerThanTheResponseTimeout_HandlesEachMessageOnce()
    {
        var queue = C.Queue(NewName("slow"));
        var name = NewName("plain");
        var script = ConsumerScript.For(name);
        script.Behavior = (_, _) => Task.Delay(Slow);
        var ids = Enumerable.Range(0, 6).Select(i => $"job-{i}").ToList();
        await queue.SendBatchAsync(ids.Select(id => OutgoingMessage.FromText(id, id)));

        await using (await queue.SubscribeAsync(C.Client.GetGrain<IPlainConsumerGrain>(name), new ConsumerOptions { Prefetch = 20 }))
        {
            await Wait.UntilAsync(() => queue.GetStatsAsync(), s => s.TotalCompleted == ids.Count, "every message is completed", TimeSpan.FromSeconds(60));
        }

        AssertEachHandledOnce(script, ids);
        Assert.Equal(ids.Count, script.Deliveries.Count);
    }

    [Fact]
    public async Task HandlersThreeTimesTheResponseTimeout_GrainAndClientObject_HandleEachMessageOnce()
    {
        foreach (var clientObject in new[] { false, true })
        {
            var queue = C.Queue(NewName("long"));
            var name = NewName("long");
            var script = ConsumerScript.For(name);
            script.Behavior = (_, _) => Task.Delay(ShortResponseTimeoutClusterFixture.ResponseTimeout * 3);
            var ids = new[] { "a", "b" };
            await queue.SendBatchAsync(ids.Select(id => OutgoingMessage.FromText(id, id)));
            IQueueConsumer consumer = clientObject ? new TestClientConsumer(name, C.Client) : C.Client.GetGrain<IPlainConsumerGrain>(name);
            await using (await queue.SubscribeAsync(consumer, new ConsumerOptions { Prefetch = 1 }))
            {
                await Wait.UntilAsync(() => queue.GetStatsAsync(), s => s.TotalCompleted == ids.Length, $"every message is completed (client object: {clientObject})",
                    TimeSpan.FromSeconds(60));
            }

            AssertEachHandledOnce(script, ids);
        }
    }

    [Fact]
    public async Task AHandlerRunningTenMinutes_CompletesItsMessageOnce_ItsLockRenewedMeanwhile()
    {
        var queue = C.Queue(NewName("ten"));
        var name = NewName("ten");
        var script = ConsumerScript.For(name);
        var started = C.Time.GetUtcNow();
        script.Behavior = async (_, _) =>
        {
            while (C.Time.GetUtcNow() - started < TimeSpan.FromMinutes(10))
            {
                await Task.Delay(5);
            }
        };
        await queue.ConfigureAsync(new QueueSettings { LockDuration = TimeSpan.FromSeconds(30) });
        await queue.SendAsync("long job", "long-job");

        await using (await queue.SubscribeAsync(C.Client.GetGrain<IPlainConsumerGrain>(name), new ConsumerOptions { Prefetch = 5 }))
        {
            await Wait.UntilAsync(() => Task.FromResult(script.Deliveries.Count), n => n == 1, "the handler started");
            started = C.Time.GetUtcNow();
            // Ten (fake) minutes in 5-second steps: each step lets the queue's timer renew the 30-second lock.
            for (var i = 0; i < 120; i++)
            {
                C.Time.Advance(TimeSpan.FromSeconds(5));
                await Task.Delay(10);
            }

            await Wait.UntilAsync(() => queue.GetStatsAsync(), s => s.TotalCompleted == 1, "the message is completed");
        }

        AssertEachHandledOnce(script, ["long-job"]);
        Assert.Single(script.Deliveries);
    }

    [Fact]
    public async Task AHungHandler_IsFailedAfterMaxAutoLockRenewalDuration_TheMessageGoesToAnotherConsumer_ItsLateResultIgnored()
    {
        var queue = C.Queue(NewName("hung"));
        var names = new[] { NewName("a"), NewName("b") };
        var release = new TaskCompletionSource();
        var hungIn = new ConcurrentBag<string>();
        foreach (var name in names)
        {
            ConsumerScript.For(name).Behavior = async (delivery, _) =>
            {
                if (delivery.Message.DeliveryCount == 1)
                {
                    hungIn.Add(name);
                    await release.Task; // hangs until the test lets it go
                }
            };
        }

        var options = new ConsumerOptions { Prefetch = 3, MaxAutoLockRenewalDuration = TimeSpan.FromSeconds(20) };
        var subscriptions = new List<QueueSubscription>();
        foreach (var name in names)
        {
            subscriptions.Add(await queue.SubscribeAsync(C.Client.GetGrain<IPlainConsumerGrain>(name), options));
        }

        await queue.SendAsync("stuck", "stuck-1");
        await Wait.UntilAsync(() => Task.FromResult(hungIn.Count), n => n == 1, "a consumer is handling the message");
        var hung = hungIn.Single();
        var other = names.Single(n => n != hung);

        for (var i = 0; i < 5; i++)
        {
            C.Time.Advance(TimeSpan.FromSeconds(5)); // past the 20-second maximum, in steps the lock renewal follows
            await Task.Delay(20);
        }

        await Wait.UntilAsync(() => queue.GetStatsAsync(), s => s.TotalCompleted == 1, "the other consumer completed the redelivered message");
        var redelivered = Assert.Single(ConsumerScript.For(other).Succeeded);
        Assert.Equal(2, redelivered.Message.DeliveryCount);

        release.SetResult(); // the hung handler returns: its result must not complete anything again
        await Wait.UntilAsync(() => Task.FromResult(ConsumerScript.For(hung).Succeeded.Count), n => n == 1, "the hung handler returned");
        await queue.SendAsync("after", "after-1");
        await Wait.UntilAsync(() => queue.GetStatsAsync(), s => s.TotalCompleted == 2, "the next message is completed");
        var stats = await queue.GetStatsAsync();
        Assert.Equal((0L, 2L), (stats.ActiveCount, stats.TotalCompleted));
        foreach (var subscription in subscriptions)
        {
            await subscription.DisposeAsync();
        }
    }
}

/// <summary>Long polls that their callers give up on lock nothing.</summary>
public sealed class CancelledReceiveTests(MemoryClusterFixture fixture) : IClassFixture<MemoryClusterFixture>
{
    private QueueTestCluster C => fixture.Cluster;

    [Fact]
    public async Task ACancelledLongPoll_LocksNothing_TheNextMessageGoesToTheNextReceive()
    {
        var queue = C.Queue("poll-" + Guid.NewGuid().ToString("N")[..10]);
        using var cancel = new CancellationTokenSource();
        var polling = queue.WaitAndReceiveAsync(TimeSpan.FromSeconds(20), 5, cancellationToken: cancel.Token);
        await Task.Delay(200); // the poll is waiting in the grain (nothing to wait on: it is an empty queue)
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => polling);

        await queue.SendAsync("after the cancel", "m-1");
        // The cancellation (or the release the client sends after it) may reach the queue after the send: the poll
        // may lock the message first, but it gives it back at once, never after its 30 s lock (the clock stands still).
        var received = Assert.Single(await Wait.UntilAsync(() => queue.ReceiveAsync(5), r => r.Count > 0, "the message is receivable"));
        Assert.Equal(1, received.Message.DeliveryCount);
        var stats = await queue.GetStatsAsync();
        Assert.Equal((0L, 1L), (stats.ReadyCount, stats.LockedCount));
    }

    [Fact]
    public async Task ReleaseReceive_UndoesTheLocksOfAReceiveWhoseCallerCancelledAsItReturned()
    {
        var queue = C.Queue("poll-" + Guid.NewGuid().ToString("N")[..10]);
        await queue.SendBatchAsync([OutgoingMessage.FromText("a", "a"), OutgoingMessage.FromText("b", "b")]);
        var grain = C.Grain(queue.Name);
        var receiveId = Guid.NewGuid();
        var lost = await grain.ReceiveWait(1, TimeSpan.FromMinutes(5), TimeSpan.Zero, receiveId, CancellationToken.None);

        await grain.ReleaseReceive(receiveId);
        await grain.ReleaseReceive(receiveId); // once only: nothing more happens

        var again = await queue.ReceiveAsync(5);
        Assert.Equal(["a", "b"], again.Select(r => r.Message.MessageId));
        Assert.All(again, r => Assert.Equal(1, r.Message.DeliveryCount));
        await Assert.ThrowsAsync<QueueException>(() => queue.CompleteAsync(lost[0].LockToken));
        await queue.CompleteAsync(again.Select(r => r.LockToken));
        Assert.Equal(0, (await queue.GetStatsAsync()).ActiveCount);
    }
}

/// <summary>A memory-storage cluster whose queues take at most 1 MiB of staged sends.</summary>
public sealed class SmallStagingClusterFixture : QueueClusterFixture
{
    protected override void Configure(OrleansQueue.Options.OrleansQueueOptions options)
    {
        options.MaxBatchBodyBytes = 1024 * 1024;
        options.MaxStagedBytes = 1024 * 1024;
    }

    protected override Task<StorageSetup> CreateStorageAsync() => Task.FromResult(new StorageSetup(StorageKind.Memory));
}

/// <summary>Memory the senders and the client can take is bounded.</summary>
public sealed class BoundsTests(SmallStagingClusterFixture fixture) : IClassFixture<SmallStagingClusterFixture>
{
    private QueueTestCluster C => fixture.Cluster;

    [Fact]
    public async Task SendsFasterThanStorage_AreRefusedAsServerBusyBeyondMaxStagedBytes_AndTheClientRetriesThem()
    {
        var queue = C.Queue("busy-" + Guid.NewGuid().ToString("N")[..10]);
        await queue.SendAsync("first");
        var storage = (CountingGrainStorage)C.Storage();
        storage.WriteLatency = TimeSpan.FromMilliseconds(300);
        try
        {
            var grain = C.Grain(queue.Name);
            var body = new byte[200 * 1024];
            var calls = Enumerable.Range(0, 12).Select(i => grain.Enqueue([new OutgoingMessage(body) { MessageId = $"big-{i}" }])).ToList();
            var outcomes = await Task.WhenAll(calls.Select(async c =>
            {
                try
                {
                    await c;
                    return (QueueErrorCode?)null;
                }
                catch (QueueException e)
                {
                    return e.Code;
                }
            }));
            Assert.Contains(QueueErrorCode.ServerBusy, outcomes);
            Assert.All(outcomes, o => Assert.True(o is null or QueueErrorCode.ServerBusy));
            var stored = outcomes.Count(o => o is null);

            // The client retries a busy refusal with the same ids: every message ends stored once.
            var client = C.Client.GetQueue(queue.Name, new QueueClientOptions
            {
                SendAttempts = 20, RetryDelay = TimeSpan.FromMilliseconds(100), CoalesceSends = false,
            });
            await Task.WhenAll(Enumerable.Range(0, 12).Select(i => client.SendAsync(new OutgoingMessage(body) { MessageId = $"big-{i}" })));
            Assert.Equal(13L, (await queue.GetStatsAsync()).TotalEnqueued);
            Assert.InRange(stored, 1, 11);
        }
        finally
        {
            storage.WriteLatency = TimeSpan.Zero;
        }
    }

    [Fact]
    public async Task TheClientsSendCoalescers_ForgetQueuesThatWentIdle()
    {
        await Task.WhenAll(Enumerable.Range(0, 150).Select(i => C.Client.GetQueue($"idle-{i}").SendAsync("hello")));
        Assert.InRange(SendCoalescer.CountFor(C.Client), 150, 1000); // all recent: none is swept
        var idleAfter = SendCoalescer.IdleAfter;
        SendCoalescer.IdleAfter = TimeSpan.Zero;
        try
        {
            await C.Client.GetQueue("idle-next").SendAsync("hello"); // a send sweeps the idle ones
            Assert.InRange(SendCoalescer.CountFor(C.Client), 1, SendCoalescer.SweepAbove);
        }
        finally
        {
            SendCoalescer.IdleAfter = idleAfter;
        }
    }
}
