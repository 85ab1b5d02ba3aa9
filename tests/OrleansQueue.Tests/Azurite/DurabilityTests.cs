using Orleans.Runtime;
using Orleans.Storage;
using OrleansQueue.Storage;
using OrleansQueue.Tests.Infrastructure;

namespace OrleansQueue.Tests.Azurite;

/// <summary>Durability against real storage on Azurite: restarts, crashes, ETag conflicts and scale.</summary>
public sealed class DurabilityTests(Xunit.Abstractions.ITestOutputHelper output) : AzuriteTest
{
    [Theory]
    [InlineData(StorageKind.AzureTable, true)]
    [InlineData(StorageKind.AzureTable, false)]
    [InlineData(StorageKind.AzureBlob, true)]
    public async Task AfterACrashOrStop_EveryConfirmedMessageIsThere_InOrder_AndOpenLeasesAreRedelivered(StorageKind kind, bool crash)
    {
        var storage = new StorageSetup(kind, Azurite.ConnectionString);
        const string serviceId = "oq-recovery";
        void Small(Options.OrleansQueueOptions o) => (o.SegmentMaxMessages, o.SegmentChunkMessages) = (16, 4);
        var confirmed = new Dictionary<long, string>();
        var completed = new HashSet<long>();
        var leased = new HashSet<long>();

        await using (var before = await QueueTestCluster.StartAsync(storage, Small, serviceId))
        {
            var queue = before.Queue("orders");
            var sends = Enumerable.Range(0, 500).Select(async i => (Seq: await queue.SendAsync($"order {i}", $"order-{i}"), Body: $"order {i}"));
            foreach (var (seq, body) in await Task.WhenAll(sends))
            {
                confirmed.Add(seq, body);
            }

            var received = await queue.ReceiveAsync(150, TimeSpan.FromMinutes(1));
            await queue.CompleteAsync(received.Take(100).Select(r => r.LockToken));
            completed.UnionWith(received.Take(100).Select(r => r.Message.SequenceNumber));
            leased.UnionWith(received.Skip(100).Select(r => r.Message.SequenceNumber));

            if (crash)
            {
                await before.Cluster.KillSiloAsync(before.Cluster.Silos[0]);
            }
        }

        // Azurite too is stopped (gracefully: it saves its data on close) and started again.
        await Azurite.RestartAsync();

        await using var after = await QueueTestCluster.StartAsync(storage, Small, serviceId);
        var again = after.Queue("orders");
        var stats = await again.GetStatsAsync();
        Assert.Equal((500L, 400L, 50L, 100L), (stats.TotalEnqueued, stats.ActiveCount, stats.LockedCount, stats.TotalCompleted));

        after.Time.Advance(TimeSpan.FromMinutes(2)); // the open leases end
        var delivered = new List<QueueMessage>();
        while ((await again.ReceiveAsync(100)) is { Count: > 0 } batch)
        {
            delivered.AddRange(batch.Select(b => b.Message));
            await again.CompleteAsync(batch.Select(b => b.LockToken));
        }

        var expected = confirmed.Keys.Where(s => !completed.Contains(s)).Order().ToList();
        Assert.Equal(expected, delivered.Select(m => m.SequenceNumber)); // 0 lost, 0 duplicated, in order
        Assert.All(delivered, m => Assert.Equal(confirmed[m.SequenceNumber], m.BodyAsString()));
        Assert.All(delivered, m => Assert.Equal(leased.Contains(m.SequenceNumber) ? 2 : 1, m.DeliveryCount));
        var order3 = confirmed.Single(c => c.Value == "order 3").Key;
        Assert.Equal(order3, await again.SendAsync("order 3", "order-3")); // duplicate detection survived the restart
    }

    [Fact]
    [Trait("Category", "Fault")]
    public async Task OutOfBandWrites_SurfaceAsConflicts_TheQueueReloads_AndNothingIsLostOrOverwritten()
    {
        var storage = new StorageSetup(StorageKind.AzureTable, Azurite.ConnectionString);
        await using var cluster = await QueueTestCluster.StartAsync(storage);
        var queue = cluster.Queue("contended");
        var grainId = cluster.Grain("contended").GetGrainId();
        var store = cluster.Storage();
        await queue.SendBatchAsync(Enumerable.Range(1, 5).Select(i => OutgoingMessage.FromText($"m{i}", $"id-{i}")));
        var leases = await queue.ReceiveAsync(2);

        async Task BumpETag<T>(string stateName)
        {
            var state = new GrainState<T>();
            await store.ReadStateAsync(stateName, grainId, state);
            Assert.True(state.RecordExists);
            await store.WriteStateAsync(stateName, grainId, state); // same content, new ETag
        }

        // The cursor record: the settlement's write conflicts; the caller learns it, the queue reloads.
        await BumpETag<QueueMetaState>(StateNames.Meta);
        var conflict = await Assert.ThrowsAsync<QueueException>(() => queue.CompleteAsync(leases[0]));
        Assert.Equal(QueueErrorCode.StorageFailed, conflict.Code);
        await queue.CompleteAsync(leases[0]); // re-read and decided again: the lease was in the stored record

        // The tail segment: the send's write conflicts, the client retries with the same id, one copy is stored.
        await BumpETag<SegmentState>(StateNames.SegmentChunk(0, 0));
        Assert.Equal(6, await queue.SendAsync("m6", "id-6"));

        // 100 out-of-band writes: each makes the next cursor write conflict; the retry after the reload succeeds.
        var conflicts = 0;
        for (var i = 0; i < 100; i++)
        {
            await BumpETag<QueueMetaState>(StateNames.Meta);
            try
            {
                await queue.RenewLockAsync(leases[1]);
            }
            catch (QueueException e) when (e.Code == QueueErrorCode.StorageFailed)
            {
                conflicts++;
                await queue.RenewLockAsync(leases[1]);
            }
        }

        Assert.Equal(100, conflicts);
        output.WriteLine($"F6: 100 out-of-band ETag bumps, {conflicts} conflicts surfaced and reloaded");

        await queue.CompleteAsync(leases[1]);
        var rest = await queue.ReceiveAsync(10);
        Assert.Equal([3L, 4, 5, 6], rest.Select(r => r.Message.SequenceNumber));
        await queue.CompleteAsync(rest.Select(r => r.LockToken));
        var stats = await queue.GetStatsAsync();
        output.WriteLine($"F6: lost 0 of 6 (all completed in order), overwritten 0; {stats}");
        Assert.Equal((6L, 6L, 0L), (stats.TotalEnqueued, stats.TotalCompleted, stats.ActiveCount));
    }

    [Fact]
    public async Task TwentyThousandMessages_OnAzureTable_AreStoredAndDrainedWithoutError()
    {
        var storage = new StorageSetup(StorageKind.AzureTable, Azurite.ConnectionString);
        await using var cluster = await QueueTestCluster.StartAsync(storage); // default options: 128-message segments
        var queue = cluster.Queue("bulk");
        var body = new byte[256];
        using var inFlight = new SemaphoreSlim(1000);
        var sends = Enumerable.Range(0, 20_000).Select(async i =>
        {
            await inFlight.WaitAsync();
            try
            {
                return await queue.SendAsync(new OutgoingMessage(body) { MessageId = $"bulk-{i}" });
            }
            finally
            {
                inFlight.Release();
            }
        });
        var sequences = await Task.WhenAll(sends);
        Assert.Equal(Enumerable.Range(1, 20_000).Select(i => (long)i), sequences.Order());

        await cluster.Cluster.DeactivateAsync(cluster.Grain("bulk")); // and it loads again from storage
        Assert.Equal(20_000, (await queue.GetStatsAsync()).ReadyCount);

        long next = 1;
        while ((await queue.ReceiveAsync(1000)) is { Count: > 0 } batch)
        {
            Assert.Equal(Enumerable.Range(0, batch.Count).Select(i => next + i), batch.Select(b => b.Message.SequenceNumber));
            next += batch.Count;
            await queue.CompleteAsync(batch.Select(b => b.LockToken));
        }

        Assert.Equal(20_001, next);
        Assert.Equal(0, (await queue.GetStatsAsync()).ActiveCount);
    }
}
