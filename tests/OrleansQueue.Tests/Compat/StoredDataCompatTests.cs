using OrleansQueue.Options;
using OrleansQueue.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansQueue.Tests.Compat;

/// <summary>
/// Stored data stays readable: queues written by an earlier commit (the fixtures in Compat/Fixtures, see its README)
/// are imported into a fresh Azurite and read by this code, through the public client API only. Each fixture holds
/// many segments, completions, open locks (parked and in the window), moves to the dead-letter grain that were stored
/// but not done, dead letters, a redriven message, per-queue settings and a grain consumer's subscription.
/// </summary>
public sealed class StoredDataCompatTests(ITestOutputHelper output) : AzuriteTest
{
    public static TheoryData<string> Fixtures()
    {
        var data = new TheoryData<string>();
        foreach (var (kind, encoding) in CompatFixture.Combinations)
        {
            data.Add(CompatFixture.FileName(kind, encoding));
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public async Task QueuesWrittenByAnEarlierVersion_AreReadIntact(string fixtureFile)
    {
        var fixture = await CompatFixture.LoadAsync(Path.Combine(CompatFixture.Folder, fixtureFile));
        var expected = fixture.Expected;
        output.WriteLine($"{fixtureFile}: written by {fixture.WrittenBy}, clock {fixture.Clock:O}");
        await fixture.Storage.WriteAsync(Azurite.ConnectionString);

        CompatConsumerGrain.FailAsScripted = false;
        CompatConsumerGrain.Deliveries.Clear();
        var storage = new StorageSetup(fixture.Provider, Azurite.ConnectionString) { Location = fixture.Location, Encoding = fixture.Encoding };
        await using var cluster = await QueueTestCluster.StartAsync(storage, fixture.SiloOptions.Apply, fixture.ServiceId, startTime: fixture.Clock);
        var main = cluster.Queue(expected.MainQueue);
        var push = cluster.Queue(expected.PushQueue);
        var deadLetters = cluster.Client.GetDeadLetters();

        // Settings, as stored with each queue.
        AssertSettings(expected.MainSettings, await main.GetSettingsAsync(), expected.MainQueue);
        AssertSettings(expected.PushSettings, await push.GetSettingsAsync(), expected.PushQueue);

        // The queue registry (read by every silo at start, to wake queues with push subscribers) lists the push queue.
        Assert.Contains(expected.PushQueue, await QueuesWithSubscribersInShardOf(cluster.Client, expected.PushQueue));

        // Counters; the stored moves to the dead-letter grain finish on their own.
        var stats = await main.GetStatsAsync();
        Assert.True(
            (stats.TotalEnqueued, stats.TotalCompleted, stats.LockedCount, stats.TotalDeadLettered + stats.DeadLetteringCount)
            == (expected.MainTotalEnqueued, expected.MainTotalCompleted, expected.Locked.Count, expected.MainTotalDeadLettered),
            $"main queue stats {stats}: expected {expected.MainTotalEnqueued} enqueued, {expected.MainTotalCompleted} completed, " +
            $"{expected.Locked.Count} locked, {expected.MainTotalDeadLettered} dead-lettered or on the way");
        stats = await Wait.UntilAsync(() => main.GetStatsAsync(), s => s.DeadLetteringCount == 0,
            $"the {expected.PendingMoves.Count} stored moves to the dead-letter grain are done");
        Assert.Equal((expected.MainTotalDeadLettered, (long)expected.Ready.Count), (stats.TotalDeadLettered, stats.ReadyCount));
        var pushStats = await push.GetStatsAsync();
        Assert.Equal((expected.PushTotalCompleted, (long)expected.PushDelayed.Count, 0L), (pushStats.TotalCompleted, pushStats.DelayedCount, pushStats.ReadyCount));

        // The dead letters stored before, and the moved ones, with their reasons.
        var entries = await deadLetters.BrowseAllAsync().ToListAsync();
        var before = expected.DeadLetters;
        Assert.Equal(before, [.. entries.Take(before.Count).Select(CompatDeadLetter.From)]);
        var moved = entries.Skip(before.Count).Select(CompatDeadLetter.From).ToList();
        Assert.Equal(expected.PendingMoves.OrderBy(m => m.Seq), moved.OrderBy(m => m.Seq));

        // Duplicate detection remembers the stored ids: the same id again is not stored twice.
        var duplicate = expected.Duplicate;
        Assert.Equal(duplicate.Seq, await main.SendAsync(OutgoingMessage.FromText(duplicate.Body, duplicate.Id)));
        Assert.Equal(expected.MainTotalEnqueued, (await main.GetStatsAsync()).TotalEnqueued);

        // The subscription: a message sent now is pushed to the subscribed grain.
        var fresh = await push.SendAsync("after the upgrade", "id-after-upgrade");
        await Wait.UntilAsync(() => Task.FromResult(CompatConsumerGrain.Deliveries.ToList()), d => d.Any(x => x.Message.SequenceNumber == fresh),
            $"the consumer subscribed to {expected.PushQueue} ({expected.Subscription.Consumer}) gets a new message pushed");
        var pushed = CompatConsumerGrain.Deliveries.Single(d => d.Message.SequenceNumber == fresh);
        Assert.Equal((expected.PushQueue, "id-after-upgrade", expected.Subscription.AutoComplete), (pushed.QueueName, pushed.Message.MessageId, pushed.AutoComplete));

        // Every ready message, in order, with its id, body, content type and headers, before any lock ends.
        var drained = await DrainAsync(main);
        AssertMessages(expected.Ready, drained, "ready messages");

        // Past the stored locks (and the redelivery delay that follows them): the locked messages, delivered a second
        // time; the push queue's delayed messages are pushed again.
        cluster.Time.Advance(TimeSpan.FromHours(7));
        var relocked = await DrainAsync(main, whenEmpty: () => cluster.Time.Advance(expected.MainSettings.RedeliveryDelay + TimeSpan.FromSeconds(1)), expect: expected.Locked.Count);
        AssertMessages(expected.Locked, relocked, "messages locked when the data was written");
        Assert.Equal(0, (await main.GetStatsAsync()).ActiveCount);
        await push.SendAsync("after the delay", "id-after-delay"); // the queue looks at its delayed messages now, not at its next timer
        var delayedIds = expected.PushDelayed.Select(m => m.Id).ToHashSet();
        var redelivered = await Wait.UntilAsync(
            () => Task.FromResult(CompatConsumerGrain.Deliveries.Where(d => delayedIds.Contains(d.Message.MessageId)).ToList()),
            d => d.Count == delayedIds.Count, $"the push queue's {delayedIds.Count} delayed messages are pushed again");
        AssertMessages(expected.PushDelayed, [.. redelivered.Select(d => d.Message).OrderBy(m => m.SequenceNumber)], "delayed pushes");

        // Dead letters from the stored entries redrive into a queue, bodies intact.
        var fromMain = before.Where(d => d.SourceQueue == expected.MainQueue).Concat(expected.PendingMoves).OrderBy(d => d.Seq).ToList();
        Assert.Equal(fromMain.Count, await deadLetters.RedriveAsync(new DeadLetterFilter { SourceQueue = expected.MainQueue }, "compat-redriven", messagesPerSecond: 1000));
        var back = await DrainAsync(cluster.Queue("compat-redriven"));
        Assert.Equal(fromMain.Select(d => (d.MessageId, d.Body)), back.Select(m => (m.MessageId, m.BodyAsString())));
        Assert.False((await deadLetters.GetStatsAsync()).CountBySourceQueue.ContainsKey(expected.MainQueue));
    }

    /// <summary>
    /// The compat tests' one use of an internal type: the queue registry has no public API. Keep it the only one, so
    /// that moving internals means changing this line, not the test.
    /// </summary>
    private static Task<string[]> QueuesWithSubscribersInShardOf(IGrainFactory grains, string queue) =>
        OrleansQueue.Registry.QueueRegistry.ShardFor(grains, queue).QueuesWithSubscribers();

    private static void AssertSettings(CompatSettings expected, QueueSettings actual, string queue)
    {
        var read = CompatSettings.From(actual);
        Assert.True(expected.Describe() == read.Describe(), $"{queue}'s settings: expected {expected.Describe()}, read {read.Describe()}");
    }

    private static void AssertMessages(List<CompatMessage> expected, List<QueueMessage> actual, string what)
    {
        Assert.True(expected.Count == actual.Count, $"{what}: expected {expected.Count}, got {actual.Count}");
        for (var i = 0; i < expected.Count; i++)
        {
            var (e, a) = (expected[i], actual[i]);
            var read = new CompatMessage(a.SequenceNumber, a.MessageId, a.BodyAsString(), a.ContentType,
                a.Headers is null ? null : new Dictionary<string, string>(a.Headers), a.DeliveryCount, a.EnqueuedTime);
            Assert.True(
                (e.Seq, e.Id, e.Body, e.ContentType, e.DeliveryCount, e.EnqueuedTime) == (read.Seq, read.Id, read.Body, read.ContentType, read.DeliveryCount, read.EnqueuedTime)
                && (e.Headers ?? []).OrderBy(h => h.Key).SequenceEqual((read.Headers ?? []).OrderBy(h => h.Key)),
                $"{what}, message {i}: expected {Describe(e)}, read {Describe(read)}");
        }
    }

    private static string Describe(CompatMessage m) =>
        $"#{m.Seq} {m.Id} '{m.Body}' ({m.ContentType}; {string.Join(", ", (m.Headers ?? []).Select(h => $"{h.Key}={h.Value}"))}) delivery {m.DeliveryCount}, enqueued {m.EnqueuedTime:O}";

    /// <summary>
    /// Receives and completes until nothing is ready. With <paramref name="whenEmpty"/> (which moves the grains' clock
    /// past a redelivery delay), an empty receive runs it and tries again, up to 5 times, until <paramref name="expect"/>
    /// messages came.
    /// </summary>
    private static async Task<List<QueueMessage>> DrainAsync(QueueClient queue, Action? whenEmpty = null, int expect = 0)
    {
        var messages = new List<QueueMessage>();
        for (var empty = 0; empty < 5;)
        {
            var batch = await queue.ReceiveAsync(500);
            if (batch.Count == 0)
            {
                if (whenEmpty is null || messages.Count >= expect)
                {
                    break;
                }

                whenEmpty();
                empty++;
                continue;
            }

            messages.AddRange(batch.Select(b => b.Message));
            await queue.CompleteAsync(batch.Select(b => b.LockToken));
        }

        return messages;
    }
}
