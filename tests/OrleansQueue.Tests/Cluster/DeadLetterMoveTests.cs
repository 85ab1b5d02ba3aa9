using Orleans.Runtime;
using OrleansQueue.Internal;
using OrleansQueue.Options;
using OrleansQueue.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansQueue.Tests.Cluster;

/// <summary>A cluster with the default queue and dead-letter options, on memory storage behind a write counter.</summary>
public sealed class DefaultOptionsClusterFixture : QueueClusterFixture
{
    protected override void Configure(OrleansQueueOptions options)
    {
    }

    protected override Task<StorageSetup> CreateStorageAsync() => Task.FromResult(new StorageSetup(StorageKind.Memory));
}

/// <summary>Moves into the dead-letter grain in batches, and redrives out of it within the queue's batch limits.</summary>
public sealed class DeadLetterMoveTests(DefaultOptionsClusterFixture fixture, ITestOutputHelper output) : IClassFixture<DefaultOptionsClusterFixture>
{
    private QueueTestCluster C => fixture.Cluster;

    private static string NewName(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..24];

    private static DeadLetterMove Move(string queue, string messageId, int bodyBytes = 16) => new(Guid.NewGuid(), new DeadLetterEntry
    {
        Message = new QueueMessage { MessageId = messageId, SequenceNumber = 1, Body = new byte[bodyBytes], EnqueuedTime = DateTimeOffset.UtcNow, DeliveryCount = 1 },
        SourceQueue = queue,
        Reason = DeadLetterReason.RejectedByConsumer,
    });

    [Fact]
    public async Task ADeadLetterStorm_CostsFarFewerDeadLetterWritesThanMessages_AndEachMessageEndsInExactlyOnePlace()
    {
        const int Queues = 4, PerQueue = 500, Total = Queues * PerQueue;
        var storage = (CountingGrainStorage)C.Storage();
        var deadLetters = C.Client.GetGrain<IDeadLetterGrain>(0);
        await deadLetters.GetStats(); // activated and loaded before counting
        var before = storage.WritesBy(deadLetters.GetGrainId());
        var history = new History();
        var queues = Enumerable.Range(0, Queues).Select(_ => C.Queue(NewName("storm"))).ToArray();
        var subscriptions = new List<IAsyncDisposable>();
        storage.WriteLatency = TimeSpan.FromMilliseconds(5); // as a real store: what coalesces must not depend on an instant one
        try
        {
            foreach (var queue in queues)
            {
                await queue.ConfigureAsync(new QueueSettings { MaxDeliveryCount = 1 });
                var ids = Enumerable.Range(0, PerQueue).Select(i => $"{queue.Name}-{i}").ToArray();
                await queue.SendBatchAsync(ids.Select(id => OutgoingMessage.FromText("poison", id)));
                foreach (var id in ids)
                {
                    history.Sent(id, SendOutcome.Ok);
                }
            }

            // Every consumer fails every delivery, all queues at once: each message is dead-lettered on its first.
            foreach (var queue in queues)
            {
                var name = NewName("rejecter");
                ConsumerScript.For(name).Behavior = (delivery, _) =>
                {
                    history.Delivered(delivery.Message);
                    throw new InvalidOperationException("rejected");
                };
                subscriptions.Add(await queue.SubscribeAsync(new TestClientConsumer(name, C.Client),
                    new ConsumerOptions { Prefetch = 200, MaxBatchSize = 50, MaxConcurrentCalls = 4 }));
            }

            await Wait.UntilAsync(async () =>
            {
                var stats = await Task.WhenAll(queues.Select(q => q.GetStatsAsync()));
                return stats.Sum(s => s.TotalDeadLettered);
            }, n => n == Total, $"all {Total} messages are dead-lettered", TimeSpan.FromMinutes(2));
        }
        finally
        {
            storage.WriteLatency = TimeSpan.Zero;
            foreach (var subscription in subscriptions)
            {
                await subscription.DisposeAsync();
            }
        }

        var writes = storage.WritesBy(deadLetters.GetGrainId()) - before;
        output.WriteLine($"{Total} messages dead-lettered with {writes} writes to dead-letter records");
        Assert.True(writes * 10 <= Total, $"{writes} dead-letter writes for {Total} messages (each used to cost two)");

        // Exactly one place: gone from the queue, once in the dead-letter grain, counted once.
        var counts = (await C.Client.GetDeadLetters().GetStatsAsync()).CountBySourceQueue;
        foreach (var queue in queues)
        {
            var stats = await queue.GetStatsAsync();
            Assert.Equal((0L, 0L, (long)PerQueue), (stats.ActiveCount, stats.TotalCompleted, stats.TotalDeadLettered));
            var entries = await C.DeadLettersOf(queue.Name);
            Assert.Equal(Enumerable.Range(0, PerQueue).Select(i => $"{queue.Name}-{i}").Order(), entries.Select(e => e.Message.MessageId).Order());
            Assert.Equal(PerQueue, counts[queue.Name]);
            Assert.All(entries, e => Assert.Equal(DeadLetterReason.MaxDeliveriesExceeded, e.Reason));
        }

        var report = history.Check();
        Assert.True(report is { Lost: 0, Unexpected: 0, DuplicatedEnqueues: 0, Redelivered: 0 }, report.ToString());
    }

    [Fact]
    public async Task AddBatch_StoresEachMoveOnce()
    {
        var queue = NewName("moves");
        var store = C.Client.GetGrain<IDeadLetterStore>(0);
        var moves = Enumerable.Range(0, 10).Select(i => Move(queue, $"m{i}")).ToArray();
        var ids = await store.AddBatch([.. moves, moves[3]]);
        Assert.Equal(ids[3], ids[10]);
        Assert.Equal(10, ids.Distinct().Count());

        // Sent again after an unknown outcome (a timeout, say), in other batches: the first entries' ids, nothing new.
        Assert.Equal(ids[..5], await store.AddBatch(moves[..5]));
        Assert.Equal(ids[5], await store.Add(moves[5].MoveId, moves[5].Entry));
        Assert.Equal(10, (await C.DeadLettersOf(queue)).Count);
        Assert.Equal(10, (await C.Client.GetDeadLetters().GetStatsAsync()).CountBySourceQueue[queue]);

        // Also after the grain is reactivated: it remembers the newest move ids from its segments.
        await C.Cluster.DeactivateAsync(C.Client.GetGrain<IDeadLetterGrain>(0));
        Assert.Equal(ids[..10], await store.AddBatch(moves));
        Assert.Equal(10, (await C.Client.GetDeadLetters().GetStatsAsync()).CountBySourceQueue[queue]);
    }

    [Fact]
    public async Task ARedriveOf256KiBBodies_SendsBatchesWithinTheQueuesByteLimit()
    {
        var source = NewName("dl-large");
        var target = C.Queue(NewName("dl-large-target"));
        var store = C.Client.GetGrain<IDeadLetterStore>(0);
        for (var i = 0; i < 5; i++)
        {
            // 40 in all, 10 MiB.
            await store.AddBatch(Enumerable.Range(0, 8).Select(j => Move(source, $"large-{i}-{j}", QueueLimits.DefaultMaxMessageBodyBytes)).ToArray());
        }

        // 100 a call, as the client asks, would be 25 MiB in one enqueue: the queue takes at most 4 MiB.
        Assert.Equal(40, await C.Client.GetDeadLetters().RedriveAsync(new DeadLetterFilter { SourceQueue = source }, target.Name, messagesPerSecond: 100_000));
        Assert.Equal(40, (await target.GetStatsAsync()).ReadyCount);
        var received = new List<ReceivedMessage>();
        await Wait.UntilAsync(async () =>
        {
            var batch = await target.ReceiveAsync(40); // one segment each, so a window's worth at a time
            if (batch.Count > 0)
            {
                await target.CompleteAsync(batch.Select(r => r.LockToken));
            }

            received.AddRange(batch);
            return received.Count;
        }, n => n == 40, "all 40 received");
        Assert.Equal(40, received.Select(r => r.Message.MessageId).Distinct().Count());
        Assert.All(received, r => Assert.Equal(QueueLimits.DefaultMaxMessageBodyBytes, r.Message.Body.Length));
        Assert.False((await C.Client.GetDeadLetters().GetStatsAsync()).CountBySourceQueue.ContainsKey(source));
    }
}
