using OrleansQueue.Options;
using OrleansQueue.Tests.Infrastructure;

namespace OrleansQueue.Tests.Cluster;

/// <summary>A memory-storage cluster with the default segment and window sizes, for queues of many messages.</summary>
public sealed class DefaultSizesClusterFixture : QueueClusterFixture
{
    protected override void Configure(OrleansQueueOptions options)
    {
    }

    protected override Task<StorageSetup> CreateStorageAsync() => Task.FromResult(new StorageSetup(StorageKind.Memory));
}

/// <summary>
/// History-checked: messages held for a long time never keep the others from being delivered, at the default sizes
/// (128-message segments, a 16-segment window), and nothing is lost or delivered twice around them.
/// </summary>
public sealed class StragglerTests(DefaultSizesClusterFixture fixture) : IClassFixture<DefaultSizesClusterFixture>
{
    private QueueTestCluster C => fixture.Cluster;

    private static string NewQueueName() => "straggle-" + Guid.NewGuid().ToString("N")[..10];

    private static async Task SendAllAsync(QueueClient queue, History history, int count, string prefix)
    {
        for (var start = 0; start < count; start += 1000)
        {
            var ids = Enumerable.Range(start, Math.Min(1000, count - start)).Select(i => $"{prefix}-{i}").ToList();
            await queue.SendBatchAsync(ids.Select(id => OutgoingMessage.FromText(id, id)));
            ids.ForEach(id => history.Sent(id, SendOutcome.Ok));
        }
    }

    /// <summary>Receives and completes until nothing comes, holding (not settling) the messages <paramref name="hold"/> picks.</summary>
    private static async Task<List<ReceivedMessage>> ReceiveAllAsync(QueueClient queue, History history, Func<QueueMessage, bool> hold)
    {
        var held = new List<ReceivedMessage>();
        while ((await queue.ReceiveAsync(500, TimeSpan.FromHours(1))) is { Count: > 0 } batch)
        {
            foreach (var received in batch)
            {
                history.Delivered(received.Message);
            }

            var complete = batch.Where(r => !hold(r.Message)).ToList();
            held.AddRange(batch.Where(r => hold(r.Message)));
            await queue.CompleteAsync(complete.Select(r => r.LockToken));
            complete.ForEach(r => history.Completed(r.Message.MessageId));
        }

        return held;
    }

    private static void AssertClean(HistoryReport report, int sent)
    {
        Assert.Equal(sent, report.Confirmed);
        Assert.Equal(sent, report.Delivered);
        Assert.Equal(0, report.Lost);
        Assert.Equal(0, report.Unexpected);
        Assert.Equal(0, report.DuplicatedEnqueues);
        Assert.Equal(0, report.DuplicatedCompletions);
        Assert.Equal(0, report.Redelivered);
    }

    [Fact]
    public async Task OneMessageLockedForAnHour_AHundredThousandBehindIt_AllDeliveredAndCompleted()
    {
        var queue = C.Queue(NewQueueName());
        var history = new History();
        await SendAllAsync(queue, history, 1, "held");
        var straggler = Assert.Single(await queue.ReceiveAsync(1, TimeSpan.FromHours(1)));
        history.Delivered(straggler.Message);
        await SendAllAsync(queue, history, 100_000, "m");

        Assert.Empty(await ReceiveAllAsync(queue, history, _ => false));
        var stats = await queue.GetStatsAsync();
        Assert.Equal((0L, 1L, 1L, 100_000L), (stats.ReadyCount, stats.LockedCount, stats.ActiveCount, stats.TotalCompleted));

        await queue.CompleteAsync(straggler);
        history.Completed(straggler.Message.MessageId);
        AssertClean(history.Check(), 100_001);
        Assert.Equal(0, (await queue.GetStatsAsync()).ActiveCount);
    }

    [Fact]
    public async Task AThousandStragglersScatteredThroughTwoHundredThousand_AllDeliveredOnce_AndTheyOutliveAReload()
    {
        var queue = C.Queue(NewQueueName());
        var history = new History();
        await SendAllAsync(queue, history, 200_000, "m");

        var held = await ReceiveAllAsync(queue, history, m => m.SequenceNumber % 200 == 7);
        Assert.Equal(1000, held.Count);
        var stats = await queue.GetStatsAsync();
        Assert.Equal((0L, 1000L, 1000L), (stats.ReadyCount, stats.LockedCount, stats.ActiveCount));
        Assert.False(stats.InFlightLimitReached);

        await C.Cluster.DeactivateAsync(C.Grain(queue.Name));
        stats = await queue.GetStatsAsync();
        Assert.Equal((0L, 1000L, 1000L), (stats.ReadyCount, stats.LockedCount, stats.ActiveCount));
        Assert.Empty(await queue.ReceiveAsync(10));

        await queue.CompleteAsync(held.Select(r => r.LockToken));
        held.ForEach(r => history.Completed(r.Message.MessageId));
        AssertClean(history.Check(), 200_000);
        stats = await queue.GetStatsAsync();
        Assert.Equal((0L, 200_000L), (stats.ActiveCount, stats.TotalCompleted));
    }

    [Fact]
    public async Task ExpiredStragglers_AreDeliveredAgainAheadOfNewerMessages()
    {
        var queue = C.Queue(NewQueueName());
        var history = new History();
        await SendAllAsync(queue, history, 5000, "m");
        var first = await queue.ReceiveAsync(3, TimeSpan.FromMinutes(5));
        await ReceiveAllAsync(queue, history, _ => false);
        C.Time.Advance(TimeSpan.FromMinutes(6));

        var again = await queue.ReceiveAsync(10);
        Assert.Equal(first.Select(r => r.Message.SequenceNumber), again.Select(r => r.Message.SequenceNumber));
        Assert.All(again, r => Assert.Equal(2, r.Message.DeliveryCount));
        await queue.CompleteAsync(again.Select(r => r.LockToken));
        Assert.Equal(0, (await queue.GetStatsAsync()).ActiveCount);
    }
}
