using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime;
using OrleansQueue.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansQueue.Tests.Faults;

/// <summary>
/// Fault injection with a recorded history (issue 4): storage writes that fail before or after they land, stale
/// settlements, limits. Each test prints the history checker's counts.
/// </summary>
[Trait("Category", "Fault")]
public sealed class FaultTests(ITestOutputHelper output)
{
    private void Print(string name, HistoryReport report, FaultInjector? faults = null) =>
        output.WriteLine($"{name}: {report}" + (faults is null ? "" : $"; injected before {faults.InjectedBefore}, after {faults.InjectedAfter}"));

    [Fact]
    public async Task F10_NoFaults_OneProducerOneConsumer_NoOrderInversions()
    {
        await using var cluster = await QueueTestCluster.StartAsync(new StorageSetup(StorageKind.Memory));
        var queue = cluster.Queue("f10");
        var history = new History();
        await Workload.ProduceAsync(queue, history, 10_000, inFlight: 100, "f10");
        await Workload.DrainAsync(cluster, queue, history);

        var report = history.Check();
        Print("F10", report);
        Assert.Equal((10_000, 0, 0, 0, 0, 0), (report.Delivered, report.Lost, report.Unexpected, report.DuplicatedEnqueues, report.DuplicatedCompletions, report.OrderInversions));
    }

    /// <summary>
    /// F5 and F7: storage writes that fail at random, after the write landed (its outcome unknown to the queue: F5)
    /// or before it (F7). Every confirmed send is delivered, nothing unexpected comes, no id is stored twice, and a
    /// send that failed is absent or there once.
    /// </summary>
    [Theory]
    [InlineData("F5", true, 10)] // ambiguous writes, retried up to 10 times: the message ids make the retries safe
    [InlineData("F7", false, 2)] // failures before the write, retried once: some sends fail for good
    public async Task F5_F7_StorageWritesFailingAtRandom_NoDuplicateEnqueues_NothingLost_FailedSendsAbsentOrSingle(string name, bool afterWrite, int sendAttempts)
    {
        var faults = new FaultInjector();
        await using var cluster = await QueueTestCluster.StartAsync(new StorageSetup(StorageKind.Memory) { Faults = faults });
        var queue = cluster.Client.GetQueue(name.ToLowerInvariant(), new QueueClientOptions { SendAttempts = sendAttempts, RetryDelay = TimeSpan.FromMilliseconds(1) });
        var history = new History();
        (faults.FailAfterWrite, faults.FailBeforeWrite) = afterWrite ? (0.05, 0.0) : (0.0, 0.10);
        await Workload.ProduceAsync(queue, history, 2_000, inFlight: 50, name.ToLowerInvariant());
        await Workload.DrainAsync(cluster, queue, history);
        (faults.FailAfterWrite, faults.FailBeforeWrite) = (0.0, 0.0);

        var report = history.Check();
        Print(name, report, faults);
        Assert.True((afterWrite ? faults.InjectedAfter : faults.InjectedBefore) > 10, "faults were injected");
        Assert.Equal((0, 0, 0), (report.Lost, report.Unexpected, report.DuplicatedEnqueues));
        Assert.Equal(report.Delivered, (int)(await queue.GetStatsAsync()).TotalEnqueued); // each id stored once
        Assert.Equal(report.Confirmed, report.Delivered - report.FailedSendsPresent);
    }

    [Fact]
    public async Task F9_QueueDeactivatedWith50UnsettledDeliveries_AllRedelivered()
    {
        await using var cluster = await QueueTestCluster.StartAsync(new StorageSetup(StorageKind.Memory));
        var queue = cluster.Queue("f9");
        var history = new History();
        await Workload.ProduceAsync(queue, history, 50, inFlight: 50, "f9");
        var unsettled = await queue.ReceiveAsync(50);
        Assert.Equal(50, unsettled.Count);
        await cluster.Cluster.DeactivateAsync(cluster.Grain("f9"));
        cluster.Time.Advance(TimeSpan.FromSeconds(31));

        var again = await queue.ReceiveAsync(100);
        foreach (var delivery in again)
        {
            history.Delivered(delivery.Message);
        }

        await queue.CompleteAsync(again.Select(d => d.LockToken));
        var report = history.Check();
        Print("F9", report);
        Assert.Equal(50, again.Count);
        Assert.All(again, d => Assert.Equal(2, d.Message.DeliveryCount));
        Assert.Equal((0, 0), (report.Lost, report.Unexpected));
    }

    [Fact]
    public async Task B1_ABodyAtTheLimitIsAccepted_OneByteMoreWritesNothing_AHugeCallHurtsOnlyItself()
    {
        await using var cluster = await QueueTestCluster.StartAsync(new StorageSetup(StorageKind.Memory));
        var grain = cluster.Grain("b1");
        var counter = (CountingGrainStorage)cluster.Storage();
        var atLimit = await grain.Enqueue([new OutgoingMessage(new byte[QueueLimits.DefaultMaxMessageBodyBytes])]);
        Assert.Equal(1L, Assert.Single(atLimit));
        var writes = counter.Writes;
        var error = await Assert.ThrowsAsync<QueueException>(() => grain.Enqueue([new OutgoingMessage(new byte[QueueLimits.DefaultMaxMessageBodyBytes + 1])]));
        Assert.Equal(QueueErrorCode.MessageTooLarge, error.Code);
        Assert.Equal(writes, counter.Writes);

        // 150 MB in one call: beyond the Orleans message size limit. It fails, and may cost the caller its connection,
        // but other callers (here: one inside the silo) see no error, and the caller recovers.
        await Assert.ThrowsAnyAsync<Exception>(() => grain.Enqueue([new OutgoingMessage(new byte[150 * 1024 * 1024])]));
        var other = cluster.Cluster.GetSiloServiceProvider().GetRequiredService<IGrainFactory>().GetGrain<IQueueGrain>("b1");
        Assert.Equal(2L, Assert.Single(await other.Enqueue([OutgoingMessage.FromText("another caller")])));
        await Wait.UntilAsync(async () =>
        {
            try
            {
                return (await grain.GetStats()).TotalEnqueued;
            }
            catch (OrleansMessageRejectionException)
            {
                return -1;
            }
        }, n => n == 2, "the caller that sent 150 MB works again", TimeSpan.FromSeconds(60));
        Assert.Equal(writes + 1, counter.Writes);
    }

    [Fact]
    public async Task B2_AQueueAtItsMaximumLength_RefusesCleanly_WithNoStorageWrite()
    {
        await using var cluster = await QueueTestCluster.StartAsync(new StorageSetup(StorageKind.Memory), o => o.MaxQueueLength = 100);
        var queue = cluster.Queue("b2");
        var counter = (CountingGrainStorage)cluster.Storage();
        await queue.SendBatchAsync(Enumerable.Range(0, 100).Select(i => OutgoingMessage.FromText($"m{i}")));
        var writes = counter.Writes;

        var full = await Assert.ThrowsAsync<QueueException>(() => queue.SendAsync("one too many"));
        Assert.Equal(QueueErrorCode.QueueFull, full.Code);
        await Assert.ThrowsAsync<QueueException>(() => queue.SendBatchAsync([OutgoingMessage.FromText("a"), OutgoingMessage.FromText("b")]));
        Assert.Equal(writes, counter.Writes);

        var leased = await queue.ReceiveAsync(8); // the fixture-free default window holds more than 8
        await queue.CompleteAsync(leased.Select(l => l.LockToken));
        Assert.Equal(8, (await queue.SendBatchAsync(Enumerable.Range(0, 8).Select(i => OutgoingMessage.FromText($"n{i}")))).Length);
        Assert.Equal(100, (await queue.GetStatsAsync()).ActiveCount);
    }

    [Fact]
    public async Task B5_AThousandStaleSettlements_RemoveNothing()
    {
        await using var cluster = await QueueTestCluster.StartAsync(new StorageSetup(StorageKind.Memory));
        var queue = cluster.Queue("b5");
        await queue.SendBatchAsync(Enumerable.Range(0, 10).Select(i => OutgoingMessage.FromText($"m{i}")));
        var first = await queue.ReceiveAsync(10, TimeSpan.FromSeconds(10));
        cluster.Time.Advance(TimeSpan.FromSeconds(11));
        var second = await queue.ReceiveAsync(10, TimeSpan.FromMinutes(5));
        Assert.Equal(10, second.Count);

        var rejected = 0;
        for (var i = 0; i < 1000; i++)
        {
            var stale = i % 2 == 0 ? first[i % 10].LockToken : Guid.NewGuid();
            var call = (i % 3) switch
            {
                0 => queue.CompleteAsync(stale),
                1 => queue.AbandonAsync(stale),
                _ => queue.RenewLockAsync(first[i % 10]),
            };
            var error = await Assert.ThrowsAsync<QueueException>(() => call);
            Assert.Equal(QueueErrorCode.MessageLockLost, error.Code);
            rejected++;
        }

        var stats = await queue.GetStatsAsync();
        output.WriteLine($"B5: {rejected} stale settlements rejected; {stats}");
        Assert.Equal((10L, 10L, 0L), (stats.ActiveCount, stats.LockedCount, stats.TotalCompleted));
        await queue.CompleteAsync(second.Select(s => s.LockToken));
        Assert.Equal(10, (await queue.GetStatsAsync()).TotalCompleted);
    }

    [Fact]
    public async Task B3_AThousandHostileQueueNamesAndMessageIds_AreAllRejected_WithNoStorageAccess()
    {
        await using var cluster = await QueueTestCluster.StartAsync(new StorageSetup(StorageKind.Memory));
        var counter = (CountingGrainStorage)cluster.Storage();
        var random = new Random(99);
        char[] hostile = ['/', '\\', '#', '?', '\u0000', '\u001f', '\u007f', '\u0085', '\u200b', 'é', '\ud83d', '\n'];
        string Hostile(int maxLength)
        {
            var length = random.Next(2, maxLength);
            var chars = Enumerable.Range(0, length).Select(_ => (char)random.Next('a', 'z' + 1)).ToArray();
            chars[random.Next(1, length)] = hostile[random.Next(hostile.Length)]; // (Orleans itself refuses all-blank keys)
            return new string(chars);
        }

        var rejected = 0;
        var grain = cluster.Grain("b3");
        for (var i = 0; i < 500; i++)
        {
            var name = i % 10 == 0 ? new string('q', 121 + i) : Hostile(100);
            var error = await Assert.ThrowsAsync<QueueException>(() => cluster.Grain(name).Enqueue([OutgoingMessage.FromText("x")]));
            Assert.Equal(QueueErrorCode.InvalidQueueName, error.Code);
            rejected++;

            var id = i % 10 == 0 ? new string('m', 129 + i) : Hostile(100);
            error = await Assert.ThrowsAsync<QueueException>(() => grain.Enqueue([OutgoingMessage.FromText("x", id)]));
            Assert.Equal(QueueErrorCode.InvalidMessageId, error.Code);
            rejected++;
        }

        output.WriteLine($"B3: {rejected} of 1000 hostile names and ids rejected; storage writes {counter.Writes}");
        Assert.Equal(1000, rejected);
        Assert.Equal(0, counter.Writes);
    }
}
