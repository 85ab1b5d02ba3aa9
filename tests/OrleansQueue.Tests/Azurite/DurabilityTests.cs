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
    public Task AfterACrashOrStop_EveryConfirmedMessageIsThere_InOrder_AndOpenLeasesAreRedelivered(StorageKind kind, bool crash) =>
        // Azurite too is stopped (gracefully: it saves its data on close) and started again.
        Recovery.RunAsync(new StorageSetup(kind, Azurite.ConnectionString), crash, () => Azurite.RestartAsync());

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
