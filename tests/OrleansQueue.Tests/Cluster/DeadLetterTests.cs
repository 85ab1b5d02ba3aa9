using Orleans.Runtime;
using OrleansQueue.Internal;
using OrleansQueue.Options;
using OrleansQueue.Storage;
using OrleansQueue.Tests.Infrastructure;

namespace OrleansQueue.Tests.Cluster;

/// <summary>
/// A cluster whose dead-letter segments hold 4 entries and whose calls read 2 segments each, so a few dozen entries
/// span more segments than one call reads; storage faults can be switched on.
/// </summary>
public sealed class DeadLetterClusterFixture : QueueClusterFixture
{
    public FaultInjector Faults { get; } = new();

    protected override void Configure(OrleansQueueOptions options)
    {
        base.Configure(options);
        options.DeadLetters.SegmentMaxEntries = 4;
        options.DeadLetters.MaxSegmentsPerCall = 2;
    }

    protected override Task<StorageSetup> CreateStorageAsync() =>
        Task.FromResult(new StorageSetup(StorageKind.Memory) { Faults = Faults });
}

/// <summary>The dead-letter grain's paging, batch limits, ids and failed deletes. The tests share its one grain: each uses queues of its own.</summary>
public sealed class DeadLetterTests(DeadLetterClusterFixture fixture) : IClassFixture<DeadLetterClusterFixture>
{
    private QueueTestCluster C => fixture.Cluster;

    private DeadLetterClient Dead => C.Client.GetDeadLetters();

    private IDeadLetterGrain Grain => C.Client.GetGrain<IDeadLetterGrain>(0);

    private static string NewName(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..24];

    /// <summary>Adds entries as a queue's move does: <paramref name="count"/> messages of <paramref name="queue"/>, in one batch.</summary>
    private async Task<long[]> AddAsync(string queue, int count, int bodyBytes = 16, string? idPrefix = null)
    {
        var moves = Enumerable.Range(0, count).Select(i => new DeadLetterMove(Guid.NewGuid(), new DeadLetterEntry
        {
            Message = new QueueMessage
            {
                MessageId = $"{idPrefix ?? queue}-{Guid.NewGuid():N}",
                SequenceNumber = i + 1,
                Body = new byte[bodyBytes],
                EnqueuedTime = C.Time.GetUtcNow(),
                DeliveryCount = 1,
            },
            SourceQueue = queue,
            Reason = DeadLetterReason.RejectedByConsumer,
        })).ToArray();
        return await C.Client.GetGrain<IDeadLetterStore>(0).AddBatch(moves);
    }

    private async Task<List<DeadLetterEntry>> BrowseAsync(DeadLetterFilter filter)
    {
        var entries = new List<DeadLetterEntry>();
        await foreach (var entry in Dead.BrowseAllAsync(filter))
        {
            entries.Add(entry);
        }

        return entries;
    }

    [Fact]
    public async Task AFilteredPurge_ReachesEveryMatch_PastMoreSegmentsThanOneCallReads()
    {
        var noise = NewName("dlp-noise");
        var target = NewName("dlp-target");
        await AddAsync(noise, 40);  // 10 segments: five calls' worth
        await AddAsync(target, 3);
        await AddAsync(noise, 20);
        await AddAsync(target, 3);
        var filter = new DeadLetterFilter { SourceQueue = target };

        // One call reads two segments and finds nothing there, but says where to go on.
        var first = await Grain.Purge(filter, new DeadLetterRange());
        Assert.Equal(0, first.Purged);
        Assert.NotNull(first.Next);

        Assert.Equal(6, await Dead.PurgeAsync(filter));
        Assert.Empty(await BrowseAsync(filter));
        var stats = await Dead.GetStatsAsync();
        Assert.False(stats.CountBySourceQueue.ContainsKey(target));
        Assert.Equal(60, stats.CountBySourceQueue[noise]);
        Assert.Equal(60, (await BrowseAsync(new DeadLetterFilter { SourceQueue = noise })).Count);

    }

    [Fact]
    public async Task AFilteredRedrive_ReachesEveryMatch_PastMoreSegmentsThanOneCallReads_AndNotEntriesAddedWhileItRuns()
    {
        var noise = NewName("dlr-noise");
        var source = NewName("dlr-source");
        var target = C.Queue(NewName("dlr-target"));
        await AddAsync(noise, 40);
        await AddAsync(source, 5, idPrefix: "first");
        await AddAsync(noise, 20);
        await AddAsync(source, 5, idPrefix: "first");
        var filter = new DeadLetterFilter { SourceQueue = source };

        Assert.Equal(10, await Dead.RedriveAsync(filter, target.Name, messagesPerSecond: 1000));
        var redriven = await target.PeekAsync(100);
        Assert.Equal(10, redriven.Count);
        Assert.All(redriven, m => Assert.StartsWith("first-", m.MessageId, StringComparison.Ordinal));
        Assert.Empty(await BrowseAsync(filter));
        Assert.Equal(60, (await Dead.GetStatsAsync()).CountBySourceQueue[noise]);

        // A paged redrive covers what existed when it started: an entry dead-lettered meanwhile stays for the next one.
        await AddAsync(noise, 40);
        await AddAsync(source, 1, idPrefix: "second");
        var page = await Grain.Redrive(filter, target.Name, 100, new DeadLetterRange());
        Assert.Equal(0, page.Redriven);
        await AddAsync(source, 1, idPrefix: "late");
        var redrivenNow = page.Redriven;
        for (var range = page.Next; range is not null; range = page.Next)
        {
            page = await Grain.Redrive(filter, target.Name, 100, range);
            redrivenNow += page.Redriven;
        }

        Assert.Equal(1, redrivenNow);
        Assert.Equal(["late"], (await BrowseAsync(filter)).Select(e => e.Message.MessageId.Split('-')[0]));
    }

    [Fact]
    public async Task EntryIds_AreNeverReused_AfterTheTailIsEmptiedOrLost_AndTheGrainReactivates()
    {
        var queue = NewName("dl-ids");
        await Dead.PurgeAsync(); // everything, so the tail segment holds only this test's entries
        var ids = await AddAsync(queue, 6); // two segments
        Assert.Equal(6, await Dead.DeleteAsync(ids));
        Assert.Equal(0, (await Dead.GetStatsAsync()).Count);

        await C.Cluster.DeactivateAsync(Grain);
        var after = await AddAsync(queue, 1);
        Assert.True(after[0] > ids.Max(), $"entry id {after[0]} was handed out before (up to {ids.Max()})");

        // Even with the tail segment record gone (deleted by hand), the cursor says which ids were handed out.
        await Dead.DeleteAsync(after);
        await C.Cluster.DeactivateAsync(Grain);
        var storage = C.Storage();
        var grainId = Grain.GetGrainId();
        var meta = new GrainState<DeadLetterMeta>();
        await storage.ReadStateAsync(StateNames.DeadLetterMeta, grainId, meta);
        var cursor = meta.State ?? throw new InvalidOperationException("The dead-letter cursor is not stored.");
        for (var segment = cursor.HeadSegment; segment <= cursor.TailSegment + 1; segment++)
        {
            var state = new GrainState<DeadLetterSegment>();
            await storage.ReadStateAsync(StateNames.DeadLetterSegment(segment), grainId, state);
            if (state.RecordExists)
            {
                await storage.ClearStateAsync(StateNames.DeadLetterSegment(segment), grainId, state);
            }
        }

        var last = await AddAsync(queue, 1);
        Assert.True(last[0] > after[0], $"entry id {last[0]} was handed out before (up to {after[0]})");
        Assert.Equal([last[0]], (await BrowseAsync(new DeadLetterFilter { SourceQueue = queue })).Select(e => e.EntryId));
    }

    [Fact]
    public async Task FailedDeletes_NeverLeaveCountsAndEntriesDisagreeing()
    {
        var a = NewName("dl-fault-a");
        var b = NewName("dl-fault-b");
        var ids = new List<long>();
        for (var i = 0; i < 6; i++)
        {
            ids.AddRange(await AddAsync(i % 2 == 0 ? a : b, 10));
        }

        var failures = 0;
        for (var round = 0; round < 12; round++)
        {
            fixture.Faults.FailBeforeWrite = 0.15;
            fixture.Faults.FailAfterWrite = 0.15;
            try
            {
                if (round % 3 == 2)
                {
                    await Dead.PurgeAsync(new DeadLetterFilter { SourceQueue = round % 2 == 0 ? a : b });
                }
                else
                {
                    await Dead.DeleteAsync(ids.Skip(round * 4).Take(5));
                }
            }
            catch (QueueException e) when (e.Code == QueueErrorCode.StorageFailed)
            {
                failures++;
            }
            finally
            {
                fixture.Faults.FailBeforeWrite = 0;
                fixture.Faults.FailAfterWrite = 0;
            }

            var stats = await Dead.GetStatsAsync();
            foreach (var queue in new[] { a, b })
            {
                var entries = await BrowseAsync(new DeadLetterFilter { SourceQueue = queue });
                Assert.True(stats.CountBySourceQueue.GetValueOrDefault(queue) == entries.Count,
                    $"round {round}: {queue} counts {stats.CountBySourceQueue.GetValueOrDefault(queue)} but holds {entries.Count}");
            }

            Assert.Equal(stats.Count, (await BrowseAsync(DeadLetterFilter.All)).Count);
        }

        Assert.True(failures > 0 && fixture.Faults.InjectedBefore > 0 && fixture.Faults.InjectedAfter > 0,
            $"the faults must hit: {failures} failed calls, {fixture.Faults.InjectedBefore} before and {fixture.Faults.InjectedAfter} after a write");
        await Dead.PurgeAsync(new DeadLetterFilter { SourceQueue = a });
        await Dead.PurgeAsync(new DeadLetterFilter { SourceQueue = b });
        Assert.Empty(await BrowseAsync(new DeadLetterFilter { SourceQueue = a }));
        Assert.Empty(await BrowseAsync(new DeadLetterFilter { SourceQueue = b }));
    }
}
