using OrleansQueue.Storage;
using OrleansQueue.Tests.Infrastructure;

namespace OrleansQueue.Tests.Cluster;

/// <summary>Push consumers, settlement, redelivery policy and the dead-letter grain, on memory storage with a fake clock.</summary>
public sealed class ConsumerTests(MemoryClusterFixture fixture) : IClassFixture<MemoryClusterFixture>
{
    private QueueTestCluster C => fixture.Cluster;

    private static string NewName(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..24];

    private IQueueConsumer Consumer(string name) => C.Client.GetGrain<ITestConsumerGrain>(name);

    [Fact]
    public async Task TenThousandMessages_ThroughThreeConsumersThatFailAtRandom_AreEachCompletedOnceOrDeadLettered()
    {
        var queue = C.Queue(NewName("work"));
        var names = Enumerable.Range(0, 3).Select(_ => NewName("worker")).ToArray();
        var random = new Random(7);
        foreach (var name in names)
        {
            ConsumerScript.For(name).Behavior = (_, _) =>
            {
                bool fail;
                lock (random)
                {
                    fail = random.NextDouble() < 0.3;
                }

                return fail ? throw new InvalidOperationException("random failure") : Task.CompletedTask;
            };
        }

        await queue.ConfigureAsync(new QueueSettings { MaxDeliveryCount = 3 }); // so some end in the dead-letter grain
        var sent = new HashSet<string>();
        for (var batch = 0; batch < 10; batch++)
        {
            var messages = Enumerable.Range(batch * 1000, 1000).Select(i => OutgoingMessage.FromText($"job {i}", $"job-{i}")).ToList();
            await queue.SendBatchAsync(messages);
            sent.UnionWith(messages.Select(m => m.MessageId!));
        }

        foreach (var name in names)
        {
            await queue.SubscribeAsync(Consumer(name), new ConsumerOptions { Prefetch = 50 });
        }

        var stats = await Wait.UntilAsync(() => queue.GetStatsAsync(), s => s.TotalCompleted + s.TotalDeadLettered == 10_000,
            "every message is completed or dead-lettered", TimeSpan.FromMinutes(2));

        var completed = names.SelectMany(n => ConsumerScript.For(n).Succeeded).Select(d => d.Message.MessageId).ToList();
        var deadLettered = (await C.DeadLettersOf(queue.Name)).Select(e => e.Message.MessageId).ToList();
        Assert.Equal(completed.Count, completed.Distinct().Count()); // completed exactly once
        Assert.Equal(stats.TotalCompleted, completed.Count);
        Assert.Equal(stats.TotalDeadLettered, deadLettered.Count);
        Assert.Empty(completed.Intersect(deadLettered)); // never both
        Assert.True(sent.SetEquals(completed.Concat(deadLettered))); // never neither: 0 lost
        Assert.All(names, n => Assert.NotEmpty(ConsumerScript.For(n).Succeeded)); // competing consumers share the work
        Assert.Equal(0, stats.ActiveCount);
    }

    [Fact]
    public async Task APoisonMessage_IsDeliveredMaxDeliveryCountTimes_DeadLettered_ThenRedrivenAndCompleted()
    {
        var queue = C.Queue(NewName("orders"));
        var consumer = NewName("poison");
        var healed = false;
        ConsumerScript.For(consumer).Behavior = (d, _) =>
            d.Message.BodyAsString() == "poison" && !healed ? throw new FormatException("cannot parse order") : Task.CompletedTask;
        await queue.ConfigureAsync(new QueueSettings { MaxDeliveryCount = 4 });
        await queue.SendAsync("fine", "order-1");
        await queue.SendAsync("poison", "order-2");
        await queue.SubscribeAsync(Consumer(consumer));

        var entry = (await Wait.UntilAsync(() => C.DeadLettersOf(queue.Name), e => e.Count == 1, "the poison message is dead-lettered"))[0];
        Assert.Equal(4, ConsumerScript.For(consumer).Deliveries.Count(d => d.Message.MessageId == "order-2"));
        Assert.Equal((DeadLetterReason.MaxDeliveriesExceeded, "order-2", 4), (entry.Reason, entry.Message.MessageId, entry.Message.DeliveryCount));
        Assert.Equal(typeof(FormatException).FullName, entry.LastExceptionType);
        Assert.Equal("cannot parse order", entry.LastExceptionMessage);
        Assert.Equal(4, entry.Attempts.Count);
        Assert.Equal("poison", entry.Message.BodyAsString());
        var stats = await queue.GetStatsAsync();
        Assert.Equal((1L, 1L, 0L), (stats.TotalCompleted, stats.TotalDeadLettered, stats.ActiveCount));
        var dlStats = await C.Client.GetDeadLetters().GetStatsAsync();
        Assert.True(dlStats.CountBySourceQueue[queue.Name] == 1);

        healed = true;
        Assert.Equal(1, await C.Client.GetDeadLetters().RedriveAsync(new DeadLetterFilter { SourceQueue = queue.Name }));
        await Wait.UntilAsync(() => queue.GetStatsAsync(), s => s.TotalCompleted == 2, "the redriven message is completed");
        var redriven = ConsumerScript.For(consumer).Succeeded.Single(d => d.Message.MessageId == "order-2");
        Assert.Equal(1, redriven.Message.DeliveryCount); // a fresh delivery count
        Assert.Empty(await C.DeadLettersOf(queue.Name));
    }

    [Fact]
    public async Task FailFastExceptions_DeadLetterOnTheFirstFailure()
    {
        var queue = C.Queue(NewName("ff"));
        var consumer = NewName("ff-consumer");
        ConsumerScript.For(consumer).Behavior = (_, _) => throw new ArgumentException("schema violation");
        await queue.ConfigureAsync(new QueueSettings { FailFastExceptionTypes = [typeof(ArgumentException).FullName!] });
        await queue.SendAsync("bad", "bad-1");
        await queue.SubscribeAsync(Consumer(consumer));

        var entry = (await Wait.UntilAsync(() => C.DeadLettersOf(queue.Name), e => e.Count == 1, "dead-lettered at once"))[0];
        Assert.Equal(DeadLetterReason.FailFast, entry.Reason);
        Assert.Single(ConsumerScript.For(consumer).Deliveries);
    }

    [Fact]
    public async Task FixedDelay_HoldsAFailedMessageBackUntilItsTime()
    {
        var queue = C.Queue(NewName("fixed"));
        await queue.ConfigureAsync(new QueueSettings { Redelivery = RedeliveryPolicy.Fixed(TimeSpan.FromSeconds(10)) });
        await queue.SendAsync("retry me");
        var first = Assert.Single(await queue.ReceiveAsync(1));
        await queue.AbandonAsync(first);

        Assert.Empty(await queue.ReceiveAsync(1));
        C.Time.Advance(TimeSpan.FromSeconds(9));
        Assert.Empty(await queue.ReceiveAsync(1));
        C.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(2, Assert.Single(await queue.ReceiveAsync(1)).Message.DeliveryCount);
    }

    [Fact]
    public async Task ExponentialBackoff_DoublesUpToTheCap()
    {
        var queue = C.Queue(NewName("expo"));
        await queue.ConfigureAsync(new QueueSettings
        {
            Redelivery = RedeliveryPolicy.Exponential(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(3), jitter: 0),
            MaxDeliveryCount = 10,
        });
        await queue.SendAsync("flaky");
        foreach (var expected in new[] { 1, 2, 3, 3 })
        {
            var delivery = Assert.Single(await queue.ReceiveAsync(1));
            await queue.AbandonAsync(delivery);
            C.Time.Advance(TimeSpan.FromSeconds(expected) - TimeSpan.FromMilliseconds(1));
            Assert.Empty(await queue.ReceiveAsync(1));
            C.Time.Advance(TimeSpan.FromMilliseconds(1));
        }

        Assert.Equal(5, Assert.Single(await queue.ReceiveAsync(1)).Message.DeliveryCount);
    }

    [Fact]
    public async Task Configure_ChangesOnlyWhatItSets_AndResetReturnsToTheSiloDefaults()
    {
        var queue = C.Queue(NewName("settings"));
        var defaults = await queue.GetSettingsAsync();
        await queue.ConfigureAsync(new QueueSettings { MaxDeliveryCount = 4, FailFastExceptionTypes = ["System.FormatException"] });
        await queue.ConfigureAsync(new QueueSettings { LockDuration = TimeSpan.FromMinutes(2) });

        var merged = await queue.GetSettingsAsync();
        Assert.Equal((TimeSpan.FromMinutes(2), 4, "System.FormatException"), (merged.LockDuration, merged.MaxDeliveryCount, Assert.Single(merged.FailFastExceptionTypes!)));
        Assert.Equal(defaults.Redelivery, merged.Redelivery);

        await queue.ResetSettingsAsync();
        var reset = await queue.GetSettingsAsync();
        Assert.Equal((defaults.LockDuration, defaults.MaxDeliveryCount, defaults.Redelivery), (reset.LockDuration, reset.MaxDeliveryCount, reset.Redelivery));
        Assert.Empty(reset.FailFastExceptionTypes!);
    }

    [Fact]
    public void ExponentialBackoff_JitterStaysWithinItsBand()
    {
        var policy = RedeliveryPolicy.Exponential(TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(5), jitter: 0.2);
        Assert.Equal(TimeSpan.FromSeconds(8), policy.DelayAfter(1, 0));
        Assert.Equal(TimeSpan.FromSeconds(12), policy.DelayAfter(1, 1));
        Assert.Equal(TimeSpan.FromSeconds(40), policy.DelayAfter(3, 0.5));
        Assert.Equal(TimeSpan.FromMinutes(5), policy.DelayAfter(20, 0.5));
        Assert.Throws<QueueException>(() => RedeliveryPolicy.Exponential(TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(1)).Validate());
    }

    [Fact]
    public async Task ManualSettlement_TheConsumerCompletesOrDeadLettersLater()
    {
        var queue = C.Queue(NewName("manual"));
        var consumer = NewName("manual-consumer");
        await queue.SendAsync("keep", "m-1");
        await queue.SendAsync("reject", "m-2");
        await queue.SubscribeAsync(Consumer(consumer), new ConsumerOptions { AutoComplete = false, Prefetch = 5 });

        var deliveries = await Wait.UntilAsync(() => Task.FromResult(ConsumerScript.For(consumer).Succeeded.ToList()), d => d.Count == 2, "both pushed");
        Assert.All(deliveries, d => Assert.False(d.AutoComplete));
        Assert.Equal(2, (await queue.GetStatsAsync()).LockedCount); // returning did not settle them

        await queue.CompleteAsync(deliveries.Single(d => d.Message.MessageId == "m-1").LockToken);
        await queue.DeadLetterAsync(deliveries.Single(d => d.Message.MessageId == "m-2").LockToken, "NotForUs", "a push consumer settling by hand");
        var entry = (await Wait.UntilAsync(() => C.DeadLettersOf(queue.Name), e => e.Count == 1, "the rejected message is dead-lettered"))[0];
        Assert.Equal((DeadLetterReason.RejectedByConsumer, "NotForUs", "a push consumer settling by hand"), (entry.Reason, entry.ConsumerReason, entry.Description));
        var stats = await queue.GetStatsAsync();
        Assert.Equal((1L, 1L, 0L), (stats.TotalCompleted, stats.TotalDeadLettered, stats.ActiveCount));
    }

    [Fact]
    public async Task UnsettledPushes_AreRedeliveredAfterTheQueueIsDeactivated()
    {
        var queue = C.Queue(NewName("deact"));
        var consumer = NewName("silent");
        // 8 = the fixture's whole window (2 segments of 4), so all are out at once.
        await queue.SendBatchAsync(Enumerable.Range(0, 8).Select(i => OutgoingMessage.FromText($"m{i}", $"d-{i}")));
        await queue.SubscribeAsync(Consumer(consumer), new ConsumerOptions { AutoComplete = false, Prefetch = 100 });
        await Wait.UntilAsync(() => Task.FromResult(ConsumerScript.For(consumer).Deliveries.Count), n => n == 8, "8 pushed");

        await C.Cluster.DeactivateAsync(C.Grain(queue.Name));
        C.Time.Advance(TimeSpan.FromSeconds(31)); // past the ack deadline
        Assert.Equal(8, (await queue.GetStatsAsync()).ActiveCount); // reactivates the queue
        var redelivered = await Wait.UntilAsync(
            () => Task.FromResult(ConsumerScript.For(consumer).Deliveries.Where(d => d.Message.DeliveryCount == 2).Select(d => d.Message.MessageId).Distinct().Count()),
            n => n == 8, "all 8 redelivered");
        Assert.Equal(8, redelivered);
        await queue.CompleteAsync(ConsumerScript.For(consumer).Deliveries.Where(d => d.Message.DeliveryCount == 2).Select(d => d.LockToken));
        Assert.Equal(0, (await queue.GetStatsAsync()).ActiveCount);
    }

    [Fact]
    public async Task AWaitingConsumer_GetsANewMessageLeasedInTheWriteThatStoresIt_AndAReloadCountsThatDelivery()
    {
        var queue = C.Queue(NewName("onwrite"));
        var consumer = NewName("holds");
        await queue.SubscribeAsync(Consumer(consumer), new ConsumerOptions { AutoComplete = false, Prefetch = 10 });
        var storage = (CountingGrainStorage)C.Storage();
        var grainId = C.Grain(queue.Name).GetGrainId();
        var cursorWrites = storage.WritesTo(grainId, StateNames.Meta);

        await queue.SendAsync(OutgoingMessage.FromText("m", "on-write-1"));
        var first = (await Wait.UntilAsync(() => Task.FromResult(ConsumerScript.For(consumer).Deliveries.ToList()), d => d.Count == 1, "pushed"))[0];
        Assert.Equal(1, first.Message.DeliveryCount);
        Assert.Equal(cursorWrites, storage.WritesTo(grainId, StateNames.Meta)); // no cursor write stood between the send and the push

        // The lease lives only in the segment record; a new activation still knows the message was delivered once.
        await C.Cluster.DeactivateAsync(C.Grain(queue.Name));
        Assert.Equal(1, (await queue.GetStatsAsync()).LockedCount);
        C.Time.Advance(TimeSpan.FromSeconds(31)); // past the ack deadline
        var again = (await Wait.UntilAsync(() => Task.FromResult(ConsumerScript.For(consumer).Deliveries.ToList()), d => d.Count == 2, "redelivered"))[1];
        Assert.Equal(("on-write-1", 2), (again.Message.MessageId, again.Message.DeliveryCount));
        await Assert.ThrowsAsync<QueueException>(() => queue.CompleteAsync([first.LockToken])); // the first lease is over
        await queue.CompleteAsync([again.LockToken]);
        Assert.Equal(0, (await queue.GetStatsAsync()).ActiveCount);
    }

    [Fact]
    public async Task ARunningHandler_KeepsItsLeaseExtended()
    {
        var queue = C.Queue(NewName("slow"));
        var consumer = NewName("slow-consumer");
        var release = new TaskCompletionSource();
        ConsumerScript.For(consumer).Behavior = (_, _) => release.Task;
        await queue.ConfigureAsync(new QueueSettings { LockDuration = TimeSpan.FromSeconds(10) });
        await queue.SendAsync("long job");
        await queue.SubscribeAsync(Consumer(consumer));
        var delivery = await Wait.UntilAsync(() => Task.FromResult(ConsumerScript.For(consumer).Deliveries.FirstOrDefault()), d => d is not null, "pushed");

        for (var i = 0; i < 6; i++)
        {
            C.Time.Advance(TimeSpan.FromSeconds(4)); // 24 s in all, the deadline is 10 s: renewed by the timer
            await Wait.UntilAsync(() => queue.GetStatsAsync(), s => s.LockedCount == 1, "still leased");
        }

        Assert.Single(ConsumerScript.For(consumer).Deliveries); // never redelivered
        release.SetResult();
        await Wait.UntilAsync(() => queue.GetStatsAsync(), s => s.TotalCompleted == 1, "completed when the handler returns");
        Assert.Equal(1, delivery!.Message.DeliveryCount);
    }

    [Fact]
    public async Task LongPoll_ReturnsAsSoonAsAMessageArrives_OrEmptyAfterTheWait()
    {
        var queue = C.Queue(NewName("poll"));
        var waiting = queue.WaitAndReceiveAsync(TimeSpan.FromSeconds(20));
        await Task.Delay(50); // let the wait start
        Assert.False(waiting.IsCompleted);
        await queue.SendAsync("wake up");
        Assert.Equal("wake up", Assert.Single(await waiting).Message.BodyAsString());

        var empty = queue.WaitAndReceiveAsync(TimeSpan.FromSeconds(5));
        await Task.Delay(50);
        C.Time.Advance(TimeSpan.FromSeconds(5));
        Assert.Empty(await empty);
        await Assert.ThrowsAsync<QueueException>(() => queue.WaitAndReceiveAsync(TimeSpan.FromSeconds(21)));
    }

    [Fact]
    public async Task AClientObject_CanSubscribe_AndUnsubscribe()
    {
        var queue = C.Queue(NewName("client"));
        var name = NewName("client-consumer");
        await using (var subscription = await queue.SubscribeAsync(new TestClientConsumer(name, C.Client)))
        {
            await queue.SendBatchAsync(Enumerable.Range(0, 20).Select(i => OutgoingMessage.FromText($"m{i}")));
            await Wait.UntilAsync(() => queue.GetStatsAsync(), s => s.TotalCompleted == 20, "all pushed to the client and completed");
        }

        await queue.SendAsync("after unsubscribe");
        Assert.Equal(1, (await queue.GetStatsAsync()).ReadyCount);
        Assert.Equal(20, ConsumerScript.For(name).Succeeded.Count);
    }

    /// <summary>Every tenth message (m7, m17, ...) fails on its first delivery.</summary>
    private static Task FailSevensOnce(QueueDelivery delivery, IGrainFactory _) =>
        delivery.Message.DeliveryCount == 1 && delivery.Message.BodyAsString().EndsWith('7')
            ? throw new InvalidOperationException("first delivery fails")
            : Task.CompletedTask;

    [Fact]
    public async Task ABatchConsumerGrain_GetsBatches_ItsFailuresAreRedelivered_AndTheRestCompleted()
    {
        var queue = C.Queue(NewName("batch"));
        var name = NewName("batcher");
        var script = ConsumerScript.For(name);
        script.Behavior = FailSevensOnce;
        await queue.SendBatchAsync(Enumerable.Range(0, 300).Select(i => OutgoingMessage.FromText($"m{i}", $"b-{i}")));
        await queue.SubscribeAsync(C.Client.GetGrain<ITestBatchConsumerGrain>(name), new ConsumerOptions { Prefetch = 100, MaxBatchSize = 50 });

        var stats = await Wait.UntilAsync(() => queue.GetStatsAsync(), s => s.TotalCompleted == 300, "every message completed");
        Assert.Equal(0, stats.ActiveCount);
        Assert.Equal(300, script.Succeeded.Select(d => d.Message.MessageId).Distinct().Count());
        Assert.Equal(30, script.Deliveries.Count(d => d.Message.DeliveryCount == 2)); // exactly the failed ones came back
        Assert.Equal(330, script.Deliveries.Count);
        Assert.All(script.BatchSizes, size => Assert.InRange(size, 1, 50));
        Assert.Contains(script.BatchSizes, size => size > 1);
    }

    [Fact]
    public async Task AClientObject_WithABatchSize_SeesOneDeliveryPerCall_AndFailuresAreRedelivered()
    {
        var queue = C.Queue(NewName("client-batch"));
        var name = NewName("client-batcher");
        var script = ConsumerScript.For(name);
        script.Behavior = FailSevensOnce;
        await queue.SendBatchAsync(Enumerable.Range(0, 200).Select(i => OutgoingMessage.FromText($"m{i}", $"c-{i}")));
        await using (await queue.SubscribeAsync(new TestClientConsumer(name, C.Client), new ConsumerOptions { Prefetch = 100, MaxBatchSize = 25 }))
        {
            await Wait.UntilAsync(() => queue.GetStatsAsync(), s => s.TotalCompleted == 200, "every message completed");
        }

        Assert.Equal(200, script.Succeeded.Select(d => d.Message.MessageId).Distinct().Count());
        Assert.Equal(20, script.Deliveries.Count(d => d.Message.DeliveryCount == 2));
    }

    [Fact]
    public async Task AGrainWithoutBatchSupport_CannotSubscribeWithABatchSize()
    {
        var queue = C.Queue(NewName("no-batch"));
        var error = await Assert.ThrowsAsync<QueueException>(() => queue.SubscribeAsync(Consumer(NewName("single")), new ConsumerOptions { MaxBatchSize = 10 }));
        Assert.Equal(QueueErrorCode.InvalidArgument, error.Code);
        await Assert.ThrowsAsync<QueueException>(() => queue.SubscribeAsync(Consumer(NewName("single")), new ConsumerOptions { MaxBatchSize = 1001 }));
        await queue.SendAsync("nobody is subscribed");
        Assert.Equal((1L, 0L), ((await queue.GetStatsAsync()).ReadyCount, (await queue.GetStatsAsync()).LockedCount));
    }

    [Fact]
    public async Task DeadLetters_CanBeBrowsedByFilterAndPage_CountedDeletedAndPurged()
    {
        var a = C.Queue(NewName("dl-a"));
        var b = C.Queue(NewName("dl-b"));
        foreach (var queue in new[] { a, b })
        {
            await queue.SendBatchAsync(Enumerable.Range(0, 30).Select(i => OutgoingMessage.FromText($"m{i}", $"{queue.Name}-{i}")));
            await Wait.UntilAsync(async () =>
            {
                foreach (var delivery in await queue.ReceiveAsync(30))
                {
                    await queue.DeadLetterAsync(delivery, description: $"rejected {delivery.Message.MessageId}");
                }

                return (await queue.GetStatsAsync()).TotalDeadLettered;
            }, n => n == 30, "all 30 dead-lettered");
        }

        await Wait.UntilAsync(async () => (await a.GetStatsAsync()).TotalDeadLettered + (await b.GetStatsAsync()).TotalDeadLettered, n => n == 60, "60 dead-lettered");
        var dead = C.Client.GetDeadLetters();
        var page = await dead.BrowseAsync(new DeadLetterFilter { SourceQueue = a.Name }, pageSize: 7);
        Assert.Equal(7, page.Entries.Count);
        Assert.All(page.Entries, e => Assert.Equal(a.Name, e.SourceQueue));
        var all = new List<DeadLetterEntry>(page.Entries);
        while (page.ContinuationEntryId is { } next)
        {
            page = await dead.BrowseAsync(new DeadLetterFilter { SourceQueue = a.Name }, 7, next);
            all.AddRange(page.Entries);
        }

        Assert.Equal(30, all.Select(e => e.Message.MessageId).Distinct().Count());
        Assert.Empty((await dead.BrowseAsync(new DeadLetterFilter { SourceQueue = a.Name, Reason = DeadLetterReason.FailFast })).Entries);
        Assert.Equal(30, (await dead.BrowseAsync(new DeadLetterFilter { SourceQueue = b.Name, Until = C.Time.GetUtcNow().AddSeconds(1) }, 100)).Entries.Count);

        Assert.Equal(2, await dead.DeleteAsync([all[0].EntryId, all[1].EntryId, -5]));
        Assert.Equal(28, (await dead.GetStatsAsync()).CountBySourceQueue[a.Name]);
        Assert.Equal(28, await dead.PurgeAsync(new DeadLetterFilter { SourceQueue = a.Name }));
        var stats = await dead.GetStatsAsync();
        Assert.False(stats.CountBySourceQueue.ContainsKey(a.Name));
        Assert.Equal(30, stats.CountBySourceQueue[b.Name]);

        // Redrive to another queue, keeping the message ids.
        var target = C.Queue(NewName("dl-target"));
        Assert.Equal(30, await dead.RedriveAsync(new DeadLetterFilter { SourceQueue = b.Name }, target.Name, messagesPerSecond: 1000));
        var redriven = await target.PeekAsync(100);
        Assert.Equal(Enumerable.Range(0, 30).Select(i => $"{b.Name}-{i}").Order(), redriven.Select(m => m.MessageId).Order());
        Assert.All(redriven, m => Assert.Equal(0, m.DeliveryCount));
        Assert.False((await dead.GetStatsAsync()).CountBySourceQueue.ContainsKey(b.Name));
    }

    [Fact]
    public async Task ConsumersNamedInConfiguration_AreSubscribedWhenTheSiloStarts()
    {
        var consumer = NewName("cfg");
        await using var cluster = await QueueTestCluster.StartAsync(new StorageSetup(StorageKind.Memory), o =>
            o.Subscriptions.Add(new Options.ConsumerSubscriptionOptions { Queue = "configured", Consumer = $"testconsumer/{consumer}", Prefetch = 5 }));
        await cluster.Queue("configured").SendAsync("from configuration");
        var delivery = await Wait.UntilAsync(() => Task.FromResult(ConsumerScript.For(consumer).Succeeded.FirstOrDefault()), d => d is not null, "pushed to the configured consumer");
        Assert.Equal("from configuration", delivery!.Message.BodyAsString());
    }

    [Fact]
    public async Task MessagesLockedForAConsumerButNeverPushed_AreReleasedWhenItUnsubscribes_WithoutCountingADelivery()
    {
        var queue = C.Queue(NewName("buffered"));
        await queue.ConfigureAsync(new QueueSettings { MaxDeliveryCount = 1 }); // a delivery counted by mistake would dead-letter
        var name = NewName("holder");
        var release = new TaskCompletionSource();
        ConsumerScript.For(name).Behavior = (_, _) => release.Task;
        await queue.SendBatchAsync(Enumerable.Range(0, 10).Select(i => OutgoingMessage.FromText($"m{i}", $"b-{i}")));
        await queue.SubscribeAsync(Consumer(name), new ConsumerOptions { Prefetch = 10 }); // one call at a time: 1 pushed, 9 locked for it
        await Wait.UntilAsync(() => Task.FromResult(ConsumerScript.For(name).Deliveries.Count), n => n == 1, "one push running");

        await C.Grain(queue.Name).Unsubscribe(Consumer(name).GetGrainId());
        var received = await queue.ReceiveAsync(10, TimeSpan.FromMinutes(1));
        Assert.Equal(9, received.Count);
        Assert.All(received, r => Assert.Equal(1, r.Message.DeliveryCount));
        await queue.CompleteAsync(received.Select(r => r.LockToken));

        release.SetResult(); // the running call still counts: its message is completed
        var stats = await Wait.UntilAsync(() => queue.GetStatsAsync(), s => s.TotalCompleted == 10, "all ten completed");
        Assert.Equal(0, stats.TotalDeadLettered);
    }

    [Fact]
    public async Task ALockToken_CanBeRenewedThroughTheClient_AndATextSendTakesACancellationToken()
    {
        var queue = C.Queue(NewName("renew"));
        using var cancellation = new CancellationTokenSource();
        await queue.SendAsync("renew me", cancellation.Token); // text and a token: no message id in between
        var received = Assert.Single(await queue.ReceiveAsync(1, TimeSpan.FromSeconds(30)));

        // What a push consumer settling later holds is the delivery's lock token: it renews with it alone.
        var lockedUntil = await queue.RenewLockAsync(received.LockToken, TimeSpan.FromMinutes(5));
        Assert.Equal(C.Time.GetUtcNow() + TimeSpan.FromMinutes(5), lockedUntil);
        C.Time.Advance(TimeSpan.FromMinutes(1)); // past the first 30 s lock
        await queue.CompleteAsync(received.LockToken);
        Assert.Equal(1, (await queue.GetStatsAsync()).TotalCompleted);
    }
}

