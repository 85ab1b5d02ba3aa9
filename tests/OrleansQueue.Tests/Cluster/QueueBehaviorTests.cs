using System.Text;
using Orleans.Runtime;
using OrleansQueue.Registry;
using OrleansQueue.Storage;
using OrleansQueue.Tests.Infrastructure;

namespace OrleansQueue.Tests.Cluster;

/// <summary>
/// The queue's behaviour, run against every storage provider: memory in a TestCluster, and Azure Table and Azure Blob
/// on Azurite. The fixture's queues use 4-message segments and a 2-segment window, so a few messages span segments.
/// </summary>
public abstract class QueueBehaviorTests(QueueClusterFixture fixture)
{
    protected QueueTestCluster C => fixture.Cluster;

    protected static string NewQueueName() => "q-" + Guid.NewGuid().ToString("N")[..12];

    protected static OutgoingMessage Text(string text, string? id = null) => OutgoingMessage.FromText(text, id);

    [Fact]
    public async Task SendReceiveComplete_DeliversInSequenceOrder_AndCountsStats()
    {
        var queue = C.Queue(NewQueueName());
        var sequences = new List<long>();
        for (var i = 0; i < 7; i++)
        {
            sequences.Add(await queue.SendAsync($"m{i}"));
        }

        Assert.Equal(Enumerable.Range(1, 7).Select(i => (long)i), sequences);

        var received = new List<ReceivedMessage>();
        while (received.Count < 7)
        {
            var batch = await queue.ReceiveAsync(3);
            Assert.NotEmpty(batch);
            received.AddRange(batch);
        }

        Assert.Equal(Enumerable.Range(0, 7).Select(i => $"m{i}"), received.Select(r => r.Message.BodyAsString()));
        Assert.All(received, r => Assert.Equal(1, r.Message.DeliveryCount));
        var stats = await queue.GetStatsAsync();
        Assert.Equal((0, 7, 7, 0), (stats.ReadyCount, stats.LockedCount, stats.TotalEnqueued, stats.TotalCompleted));

        await queue.CompleteAsync(received.Select(r => r.LockToken));
        stats = await queue.GetStatsAsync();
        Assert.Equal((0, 0, 7, 7), (stats.ReadyCount, stats.LockedCount, stats.TotalEnqueued, stats.TotalCompleted));
        Assert.Null(stats.OldestMessageAge);
        Assert.Empty(await queue.ReceiveAsync(10));
    }

    [Fact]
    public async Task MessageFields_RoundTrip()
    {
        var queue = C.Queue(NewQueueName());
        var body = new byte[] { 0, 1, 2, 255 };
        var headers = new Dictionary<string, string> { ["tenant"] = "contoso", ["ünïcødé"] = "✓" };
        await queue.SendAsync(new OutgoingMessage(body) { MessageId = "order-17", ContentType = "application/octet-stream", Headers = headers });

        var message = Assert.Single(await queue.ReceiveAsync(5)).Message;
        Assert.Equal(("order-17", 1L, "application/octet-stream"), (message.MessageId, message.SequenceNumber, message.ContentType));
        Assert.Equal(body, message.Body);
        Assert.Equal(headers, message.Headers);
        Assert.Equal(C.Time.GetUtcNow(), message.EnqueuedTime);
        Assert.Equal(((string?)null, (string?)null, (string?)null), (message.CorrelationId, message.ReplyTo, message.Subject));
    }

    [Fact]
    public async Task RequestReplyFields_AreKept_ThroughRedelivery_DeadLettering_AndRedrive()
    {
        var queue = C.Queue(NewQueueName());
        var longest = string.Concat(Enumerable.Repeat("€", QueueLimits.MaxCorrelationIdBytes / 3)); // 255 bytes of UTF-8
        var sent = new OutgoingMessage([1, 2, 3]) { MessageId = "request-1", CorrelationId = longest, ReplyTo = "replies.client-7", Subject = "" };
        await queue.SendAsync(sent);
        await queue.SendAsync("plain");
        (string? CorrelationId, string? ReplyTo, string? Subject) Fields(QueueMessage m) => (m.CorrelationId, m.ReplyTo, m.Subject);
        var expected = (sent.CorrelationId, sent.ReplyTo, sent.Subject);

        // Peeked, received, and received again after a failed delivery.
        Assert.Equal(expected, Fields((await queue.PeekAsync(1)).Single()));
        var first = (await queue.ReceiveAsync(2)).ToArray();
        Assert.Equal(expected, Fields(first[0].Message));
        Assert.Equal(((string?)null, (string?)null, (string?)null), Fields(first[1].Message));
        await queue.AbandonAsync(first[0]);
        await queue.CompleteAsync(first[1]);
        var again = Assert.Single(await queue.ReceiveAsync(2));
        Assert.Equal((2, expected), (again.Message.DeliveryCount, Fields(again.Message)));

        // Dead-lettered (moved to the dead-letter grain after the call returns): the entry keeps them.
        await queue.DeadLetterAsync(again, "no handler");
        var deadLetters = C.Client.GetDeadLetters();
        var filter = new DeadLetterFilter { SourceQueue = queue.Name };
        var entry = Assert.Single(await Wait.UntilAsync(() => ToListAsync(deadLetters.BrowseAllAsync(filter)), e => e.Count > 0, "the dead-letter entry"));
        Assert.Equal(expected, Fields(entry.Message));

        // Redriven: stored in the queue again before the call returns, and delivered with them.
        Assert.Equal(1, await deadLetters.RedriveAsync(filter));
        var redriven = Assert.Single(await queue.ReceiveAsync(2));
        Assert.Equal(("request-1", expected), (redriven.Message.MessageId, Fields(redriven.Message)));
        Assert.Equal(sent.Body, redriven.Message.Body);
    }

    private static async Task<List<T>> ToListAsync<T>(IAsyncEnumerable<T> items)
    {
        var list = new List<T>();
        await foreach (var item in items)
        {
            list.Add(item);
        }

        return list;
    }

    [Fact]
    public async Task ConcurrentSends_AllGetDistinctSequences_AndAreDeliveredInThatOrder()
    {
        var queue = C.Queue(NewQueueName());
        var sends = Enumerable.Range(0, 300).Select(i => queue.SendAsync($"m{i}", $"id-{i}")).ToArray();
        var sequences = await Task.WhenAll(sends);
        Assert.Equal(Enumerable.Range(1, 300).Select(i => (long)i), sequences.Order());

        var delivered = new List<QueueMessage>();
        while (delivered.Count < 300)
        {
            // The window holds 2 segments of 4: receives walk the segments from storage as the head advances.
            var batch = await queue.ReceiveAsync(100);
            Assert.NotEmpty(batch);
            delivered.AddRange(batch.Select(b => b.Message));
            await queue.CompleteAsync(batch.Select(b => b.LockToken));
        }

        Assert.Equal(sequences.Order(), delivered.Select(m => m.SequenceNumber));
        for (var i = 0; i < 300; i++)
        {
            Assert.Equal($"m{i}", delivered.Single(m => m.SequenceNumber == sequences[i]).BodyAsString());
        }
    }

    [Fact]
    public async Task RetriedMessageId_IsStoredOnce_AndGetsTheFirstSequenceNumber()
    {
        var queue = C.Queue(NewQueueName());
        var first = await queue.SendAsync("payment", "pay-1");
        var retry = await queue.SendAsync("payment", "pay-1");
        var inBatch = await queue.SendBatchAsync([Text("x", "pay-2"), Text("x", "pay-2"), Text("y", "pay-1")]);

        Assert.Equal(first, retry);
        Assert.Equal([2L, 2L, first], inBatch);
        var stats = await queue.GetStatsAsync();
        Assert.Equal(2, stats.TotalEnqueued);
        Assert.Equal(2, stats.ReadyCount);

        // Completed messages are still remembered within the window.
        var received = await queue.ReceiveAsync(10);
        await queue.CompleteAsync(received.Select(r => r.LockToken));
        Assert.Equal(first, await queue.SendAsync("payment", "pay-1"));
        Assert.Empty(await queue.ReceiveAsync(10));
    }

    [Fact]
    public async Task Abandon_RedeliversAtOnce_WithHigherDeliveryCount()
    {
        var queue = C.Queue(NewQueueName());
        await queue.SendAsync("a");
        await queue.SendAsync("b");
        var first = (await queue.ReceiveAsync(1))[0];
        await queue.AbandonAsync(first);

        var again = await queue.ReceiveAsync(2);
        Assert.Equal(["a", "b"], again.Select(r => r.Message.BodyAsString()));
        Assert.Equal([2, 1], again.Select(r => r.Message.DeliveryCount));
        var lost = await Assert.ThrowsAsync<QueueException>(() => queue.CompleteAsync(first));
        Assert.Equal(QueueErrorCode.MessageLockLost, lost.Code);
    }

    [Fact]
    public async Task ExpiredLease_RedeliversTheMessage_AndRejectsTheOldToken()
    {
        var queue = C.Queue(NewQueueName());
        await queue.SendAsync("slow");
        var first = Assert.Single(await queue.ReceiveAsync(1, TimeSpan.FromSeconds(10)));
        Assert.Equal(C.Time.GetUtcNow() + TimeSpan.FromSeconds(10), first.LockedUntil);

        C.Time.Advance(TimeSpan.FromSeconds(9));
        Assert.Empty(await queue.ReceiveAsync(1));
        C.Time.Advance(TimeSpan.FromSeconds(2));
        var second = Assert.Single(await queue.ReceiveAsync(1));
        Assert.Equal(2, second.Message.DeliveryCount);
        Assert.NotEqual(first.LockToken, second.LockToken);

        var stale = await Assert.ThrowsAsync<QueueException>(() => queue.CompleteAsync(first));
        Assert.Equal(QueueErrorCode.MessageLockLost, stale.Code);
        Assert.Equal([first.LockToken], stale.LockTokens);
        await queue.CompleteAsync(second);
        Assert.Equal(0, (await queue.GetStatsAsync()).ActiveCount);
    }

    [Fact]
    public async Task RenewLock_KeepsTheMessageLeased()
    {
        var queue = C.Queue(NewQueueName());
        await queue.SendAsync("long job");
        var delivery = Assert.Single(await queue.ReceiveAsync(1, TimeSpan.FromSeconds(10)));
        C.Time.Advance(TimeSpan.FromSeconds(8));
        var until = await queue.RenewLockAsync(delivery, TimeSpan.FromSeconds(10));
        Assert.Equal(C.Time.GetUtcNow() + TimeSpan.FromSeconds(10), until);
        C.Time.Advance(TimeSpan.FromSeconds(8));
        Assert.Empty(await queue.ReceiveAsync(1));
        await queue.CompleteAsync(delivery);
        Assert.Equal(1, (await queue.GetStatsAsync()).TotalCompleted);
    }

    [Fact]
    public async Task Complete_WithOneStaleToken_CompletesNone()
    {
        var queue = C.Queue(NewQueueName());
        await queue.SendBatchAsync([Text("a"), Text("b")]);
        var leased = await queue.ReceiveAsync(2);
        var stale = Guid.NewGuid();

        var error = await Assert.ThrowsAsync<QueueException>(() => queue.CompleteAsync([leased[0].LockToken, stale, leased[1].LockToken]));
        Assert.Equal(QueueErrorCode.MessageLockLost, error.Code);
        Assert.Equal([stale], error.LockTokens);
        Assert.Equal((0, 2L), ((await queue.GetStatsAsync()).TotalCompleted, (await queue.GetStatsAsync()).LockedCount));

        await queue.CompleteAsync(leased.Select(l => l.LockToken));
        Assert.Equal(2, (await queue.GetStatsAsync()).TotalCompleted);
    }

    [Fact]
    public async Task Peek_BrowsesPastTheActiveWindow_WithoutLeasing()
    {
        var queue = C.Queue(NewQueueName());
        await queue.SendBatchAsync(Enumerable.Range(1, 30).Select(i => Text($"m{i}")));
        var leased = await queue.ReceiveAsync(2);
        await queue.CompleteAsync(leased[0]);

        var all = await queue.PeekAsync(100);
        Assert.Equal(Enumerable.Range(2, 29).Select(i => (long)i), all.Select(m => m.SequenceNumber));
        Assert.Equal(1, all[0].DeliveryCount); // leased, not completed
        var tail = await queue.PeekAsync(5, fromSequenceNumber: 21);
        Assert.Equal([21L, 22, 23, 24, 25], tail.Select(m => m.SequenceNumber));
        Assert.Equal("m21", tail[0].BodyAsString());
        Assert.Empty(await queue.PeekAsync(5, fromSequenceNumber: 31));
        Assert.Equal(28, (await queue.GetStatsAsync()).ReadyCount);
    }

    [Fact]
    public async Task Purge_RemovesEveryMessage_AndTheQueueKeepsWorking()
    {
        var queue = C.Queue(NewQueueName());
        await queue.SendBatchAsync(Enumerable.Range(1, 25).Select(i => Text($"m{i}")));
        var leased = await queue.ReceiveAsync(3);

        Assert.Equal(25, await queue.PurgeAsync());
        var stats = await queue.GetStatsAsync();
        Assert.Equal((0L, 0L, 25L, 25L), (stats.ActiveCount, stats.LockedCount, stats.TotalPurged, stats.TotalEnqueued));
        Assert.Empty(await queue.ReceiveAsync(10));
        await Assert.ThrowsAsync<QueueException>(() => queue.CompleteAsync(leased[0]));

        Assert.Equal(26, await queue.SendAsync("after purge"));
        Assert.Equal("after purge", Assert.Single(await queue.ReceiveAsync(10)).Message.BodyAsString());

        await C.Cluster.DeactivateAsync(C.Grain(queue.Name));
        stats = await queue.GetStatsAsync();
        Assert.Equal((1L, 1L), (stats.ActiveCount, stats.LockedCount));
    }

    [Fact]
    public async Task Straggler_AHeldMessage_DoesNotStopTheOthers_AndItsLockSurvivesDeactivation()
    {
        var queue = C.Queue(NewQueueName());
        await queue.SendAsync("straggler");
        var straggler = Assert.Single(await queue.ReceiveAsync(1, TimeSpan.FromHours(1)));
        await queue.SendBatchAsync(Enumerable.Range(1, 30).Select(i => Text($"m{i}")));

        var delivered = new List<string>();
        while ((await queue.ReceiveAsync(3)) is { Count: > 0 } batch)
        {
            delivered.AddRange(batch.Select(r => r.Message.BodyAsString()));
            await queue.CompleteAsync(batch.Select(r => r.LockToken));
        }

        Assert.Equal(Enumerable.Range(1, 30).Select(i => $"m{i}"), delivered);
        var stats = await queue.GetStatsAsync();
        Assert.Equal((0L, 1L, 1L, 30L), (stats.ReadyCount, stats.LockedCount, stats.ActiveCount, stats.TotalCompleted));
        Assert.Equal("straggler".Length, stats.LengthBytes); // the parked message's body, counted once
        var grainId = C.Grain(queue.Name).GetGrainId();
        var page = new GrainState<InFlightPageState>();
        await C.Storage().ReadStateAsync(StateNames.InFlightPage(0), grainId, page);
        Assert.Equal("straggler", Encoding.UTF8.GetString(Assert.Single(page.State!.Entries).Message.Body));

        await C.Cluster.DeactivateAsync(C.Grain(queue.Name));
        stats = await queue.GetStatsAsync();
        Assert.Equal((0L, 1L, 1L, 9L), (stats.ReadyCount, stats.LockedCount, stats.ActiveCount, stats.LengthBytes));
        Assert.Empty(await queue.ReceiveAsync(5));
        await queue.CompleteAsync(straggler);
        stats = await queue.GetStatsAsync();
        Assert.Equal((0L, 31L, 0L), (stats.ActiveCount, stats.TotalCompleted, stats.LengthBytes));
        page = new GrainState<InFlightPageState>();
        await C.Storage().ReadStateAsync(StateNames.InFlightPage(0), grainId, page);
        Assert.False(page.RecordExists && page.State?.Entries.Count > 0, "the emptied in-flight page is deleted");
    }

    /// <summary>Stores a chunk record of queue <paramref name="queue"/> as a previous version wrote it: messages <c>id-{seq}</c> with body <c>m{seq}</c>.</summary>
    private async Task WriteChunkAsync(string queue, long segment, int chunk, DateTimeOffset enqueuedAt, params long[] seqs)
    {
        var messages = seqs.Select(seq => new StoredMessage { Id = $"id-{seq}", Seq = seq, Body = Encoding.UTF8.GetBytes($"m{seq}"), EnqueuedAt = enqueuedAt });
        await C.Storage().WriteStateAsync(StateNames.SegmentChunk(segment, chunk), C.Grain(queue).GetGrainId(),
            new GrainState<SegmentState>(new SegmentState { FirstSequence = seqs[0], Messages = [.. messages] }));
    }

    [Fact]
    public async Task StoredByThePreviousVersion_AHeldHeadMessage_IsReadAndNoLongerStallsTheQueue()
    {
        // The records the version before in-flight pages wrote for a queue whose first message is locked for an hour
        // (segments of four: [1-4] [5-8] [9]) and whose messages 2 and 3 are completed: its cursor has no page range.
        var name = NewQueueName();
        var grainId = C.Grain(name).GetGrainId();
        var storage = C.Storage();
        var at = C.Time.GetUtcNow();
        await WriteChunkAsync(name, 0, 0, at, 1, 2, 3, 4);
        await WriteChunkAsync(name, 1, 0, at, 5, 6, 7, 8);
        await WriteChunkAsync(name, 2, 0, at, 9);
        var token = Guid.NewGuid();
        await storage.WriteStateAsync(StateNames.Meta, grainId, new GrainState<QueueMetaState>(new QueueMetaState
        {
            HeadSegment = 0, TailSegment = 2, RetainedFrom = 0, AckedBelow = 1, Completed = [2, 3], TotalCompleted = 2,
            Deliveries = [new DeliveryRecord { Seq = 1, Count = 1, Token = token, LockedUntil = at.AddHours(1), Attempts = [at.ToUnixTimeMilliseconds()] }],
        }));

        var queue = C.Queue(name);
        var stats = await queue.GetStatsAsync();
        Assert.Equal((6L, 1L, 7L), (stats.ReadyCount, stats.LockedCount, stats.ActiveCount));
        var delivered = new List<long>();
        while ((await queue.ReceiveAsync(1)) is { Count: > 0 } batch)
        {
            delivered.Add(batch[0].Message.SequenceNumber);
            await queue.CompleteAsync(batch[0]);
        }

        Assert.Equal([4L, 5, 6, 7, 8, 9], delivered);
        Assert.Equal(5, await queue.SendAsync("again", "id-5")); // duplicate detection read the old segments
        await C.Cluster.DeactivateAsync(C.Grain(name));
        await queue.CompleteAsync(token); // the lock written by the previous version still settles
        Assert.Equal((0L, 9L), ((await queue.GetStatsAsync()).ActiveCount, (await queue.GetStatsAsync()).TotalCompleted));
    }

    [Fact]
    public async Task StoredByThePreviousVersion_ChunkedSegments_AreReadWhole_GrowTheirLastChunk_AndAreDeletedWithEveryChunk()
    {
        // The records the queue's own log wrote before SegmentedLog (segments of four in chunks of two): segment 0 as
        // [1-2] [3-4], segment 1 as [5-6] [7], messages 1 and 2 completed, and a cursor whose tail hint lags at 0.
        var name = NewQueueName();
        var grainId = C.Grain(name).GetGrainId();
        var storage = C.Storage();
        var at = C.Time.GetUtcNow();
        await WriteChunkAsync(name, 0, 0, at, 1, 2);
        await WriteChunkAsync(name, 0, 1, at, 3, 4);
        await WriteChunkAsync(name, 1, 0, at, 5, 6);
        await WriteChunkAsync(name, 1, 1, at, 7);
        await storage.WriteStateAsync(StateNames.Meta, grainId, new GrainState<QueueMetaState>(new QueueMetaState
        {
            HeadSegment = 0, TailSegment = 0, RetainedFrom = 0, AckedBelow = 3, TotalCompleted = 2,
        }));
        async Task<string> Chunk(long segment, int chunk)
        {
            var state = new GrainState<SegmentState>();
            await storage.ReadStateAsync(StateNames.SegmentChunk(segment, chunk), grainId, state);
            return state.RecordExists && state.State is { } stored ? $"{stored.FirstSequence}:{string.Join(",", stored.Messages.Select(m => m.Seq))}" : "none";
        }

        var queue = C.Queue(name);
        Assert.Equal((5L, 2L), ((await queue.GetStatsAsync()).ActiveCount, (await queue.GetStatsAsync()).TotalCompleted));
        Assert.Equal(4, await queue.SendAsync("again", "id-4")); // duplicate detection read every chunk
        Assert.Equal(8, await queue.SendAsync("m8", "id-8"));     // found past the lagging hint: the tail's small last chunk grows
        Assert.Equal("7:7,8", await Chunk(1, 1));
        Assert.Equal("none", await Chunk(1, 2));
        Assert.Equal([3L, 4, 5, 6, 7, 8], (await queue.PeekAsync(10)).Select(m => m.SequenceNumber));

        await C.Cluster.DeactivateAsync(C.Grain(name));
        Assert.Equal(9, await queue.SendAsync("m9")); // segment 1 is full: segment 2
        var delivered = new List<long>();
        while ((await queue.ReceiveAsync(10)) is { Count: > 0 } batch)
        {
            delivered.AddRange(batch.Select(b => b.Message.SequenceNumber));
            await queue.CompleteAsync(batch.Select(b => b.LockToken));
        }

        Assert.Equal([3L, 4, 5, 6, 7, 8, 9], delivered);
        C.Time.Advance(TimeSpan.FromMinutes(11)); // the maintenance timer deletes the completed segments
        await Wait.UntilAsync(() => Chunk(1, 0), chunk => chunk == "none", "segments 0 and 1 are deleted");
        Assert.Equal(new[] { "none", "none", "none" }, new[] { await Chunk(0, 0), await Chunk(0, 1), await Chunk(1, 1) });
        Assert.Equal("9:9", await Chunk(2, 0)); // the tail segment stays

        await C.Cluster.DeactivateAsync(C.Grain(name));
        var stats = await queue.GetStatsAsync();
        Assert.Equal((0L, 9L, 9L), (stats.ActiveCount, stats.TotalCompleted, stats.TotalEnqueued));
        Assert.Equal(10, await queue.SendAsync("m10"));
    }

    [Fact]
    public async Task Deactivation_KeepsMessages_AndOpenLeasesStillSettle()
    {
        var queue = C.Queue(NewQueueName());
        await queue.SendBatchAsync(Enumerable.Range(1, 10).Select(i => Text($"m{i}", $"id-{i}")));
        var leased = await queue.ReceiveAsync(3, TimeSpan.FromMinutes(1));
        await queue.CompleteAsync(leased[0]);

        await C.Cluster.DeactivateAsync(C.Grain(queue.Name));

        var stats = await queue.GetStatsAsync();
        Assert.Equal((9L, 2L, 1L), (stats.ActiveCount, stats.LockedCount, stats.TotalCompleted));
        await queue.CompleteAsync(leased[1]); // the lease survived the deactivation
        Assert.Equal(3, await queue.SendAsync("again", "id-3")); // and so did duplicate detection

        C.Time.Advance(TimeSpan.FromMinutes(2));
        var rest = new List<ReceivedMessage>();
        while ((await queue.ReceiveAsync(20)) is { Count: > 0 } batch)
        {
            rest.AddRange(batch);
            await queue.CompleteAsync(batch.Select(b => b.LockToken));
        }

        Assert.Equal(Enumerable.Range(3, 8).Select(i => (long)i), rest.Select(r => r.Message.SequenceNumber));
        Assert.Equal(2, rest[0].Message.DeliveryCount); // the lease that was open expired: delivered again
        Assert.All(rest.Skip(1), r => Assert.Equal(1, r.Message.DeliveryCount));
    }

    [Fact]
    public async Task CompletedSegments_AreDeleted_OnceOutOfTheDuplicateWindow()
    {
        var queue = C.Queue(NewQueueName());
        for (var b = 0; b < 5; b++)
        {
            await queue.SendBatchAsync(Enumerable.Range(4 * b + 1, 4).Select(i => Text($"m{i}"))); // a segment each
        }

        while ((await queue.ReceiveAsync(20)) is { Count: > 0 } batch)
        {
            await queue.CompleteAsync(batch.Select(b => b.LockToken));
        }

        var storage = C.Storage();
        var grainId = C.Grain(queue.Name).GetGrainId();
        async Task<bool> SegmentExists(long id)
        {
            var state = new GrainState<SegmentState>();
            await storage.ReadStateAsync(StateNames.SegmentChunk(id, 0), grainId, state);
            return state.RecordExists;
        }

        Assert.True(await SegmentExists(0), "kept for duplicate detection");
        C.Time.Advance(TimeSpan.FromMinutes(11)); // the maintenance timer deletes them
        await Wait.UntilAsync(() => SegmentExists(3), exists => !exists, "segments 0-3 are deleted");
        Assert.False(await SegmentExists(0));
        Assert.True(await SegmentExists(4), "the tail segment stays");

        await C.Cluster.DeactivateAsync(C.Grain(queue.Name));
        Assert.Equal(21, await queue.SendAsync("next"));
        Assert.Equal(1, (await queue.GetStatsAsync()).ActiveCount);
    }

    [Fact]
    public async Task ASegmentStoredAsOneRecord_ByABuildBeforeChunks_IsReadWhole_AndGrowsInANewChunk()
    {
        var name = NewQueueName();
        var storage = C.Storage();
        var grainId = C.Grain(name).GetGrainId();
        // As a silo before chunks stored it: three messages in the segment's one record, no cursor record yet.
        var legacy = new SegmentState
        {
            FirstSequence = 1,
            Messages = [.. Enumerable.Range(1, 3).Select(i => new StoredMessage
            {
                Id = $"old-{i}", Seq = i, Body = System.Text.Encoding.UTF8.GetBytes($"old {i}"), EnqueuedAt = C.Time.GetUtcNow(),
            })],
        };
        await storage.WriteStateAsync(StateNames.SegmentChunk(0, 0), grainId, new GrainState<SegmentState>(legacy));

        var queue = C.Queue(name);
        Assert.Equal(1, await queue.SendAsync("old 1", "old-1")); // the stored id: a duplicate, nothing written
        Assert.Equal(4, await queue.SendAsync("new 4"));          // the record holds 3 (chunks hold 2): a new chunk
        var chunk1 = new GrainState<SegmentState>();
        await storage.ReadStateAsync(StateNames.SegmentChunk(0, 1), grainId, chunk1);
        Assert.Equal([4L], chunk1.State!.Messages.Select(m => m.Seq));

        await C.Cluster.DeactivateAsync(C.Grain(name));
        Assert.Equal(["old 1", "old 2", "old 3", "new 4"], (await queue.PeekAsync(10)).Select(m => m.BodyAsString()));
    }

    [Fact]
    public async Task SmallSends_AreStoredInChunks_ReadBackWhole_AndDeletedWithEveryChunk()
    {
        var queue = C.Queue(NewQueueName());
        for (var i = 1; i <= 10; i++)
        {
            Assert.Equal(i, await queue.SendAsync($"m{i}")); // one write each: segments of 4 in chunks of 2
        }

        var storage = C.Storage();
        var grainId = C.Grain(queue.Name).GetGrainId();
        // The sequence numbers that chunk record holds, or "none".
        async Task<string> Chunk(long segment, int chunk)
        {
            var state = new GrainState<SegmentState>();
            await storage.ReadStateAsync(StateNames.SegmentChunk(segment, chunk), grainId, state);
            return state.RecordExists && state.State is { } stored ? string.Join(",", stored.Messages.Select(m => m.Seq)) : "none";
        }

        Assert.Equal("1,2", await Chunk(0, 0));
        Assert.Equal("3,4", await Chunk(0, 1));
        Assert.Equal("5,6", await Chunk(1, 0));
        Assert.Equal("9,10", await Chunk(2, 0));
        Assert.Equal("none", await Chunk(2, 1));

        // A new activation reads every chunk: all ten, in order.
        await C.Cluster.DeactivateAsync(C.Grain(queue.Name));
        Assert.Equal(Enumerable.Range(1, 10).Select(i => (long)i), (await queue.PeekAsync(20)).Select(m => m.SequenceNumber));
        var received = new List<ReceivedMessage>();
        while ((await queue.ReceiveAsync(10)) is { Count: > 0 } batch)
        {
            received.AddRange(batch);
            await queue.CompleteAsync(batch.Select(b => b.LockToken));
        }

        Assert.Equal(Enumerable.Range(1, 10).Select(i => $"m{i}"), received.Select(r => r.Message.BodyAsString()));
        Assert.Equal(11, await queue.SendAsync("m11"));

        C.Time.Advance(TimeSpan.FromMinutes(11)); // the maintenance timer deletes the completed segments
        await Wait.UntilAsync(() => Chunk(1, 0), chunk => chunk == "none", "segments 0 and 1 are deleted");
        Assert.Equal("none", await Chunk(0, 0));
        Assert.Equal("none", await Chunk(0, 1));
        Assert.Equal("none", await Chunk(1, 1));
        Assert.Equal("9,10", await Chunk(2, 0)); // the tail segment stays
        Assert.Equal("11", await Chunk(2, 1));
    }

    /// <summary>The queue's records in storage: the cursor, the chunks of its first segments, its first in-flight pages.</summary>
    protected async Task<List<string>> StoredRecordsOf(string queue)
    {
        var storage = C.Storage();
        var grainId = C.Grain(queue).GetGrainId();
        var found = new List<string>();
        async Task Check<T>(string name)
        {
            var state = new GrainState<T>();
            await storage.ReadStateAsync(name, grainId, state);
            if (state.RecordExists)
            {
                found.Add(name);
            }
        }

        await Check<QueueMetaState>(StateNames.Meta);
        for (long segment = 0; segment < 12; segment++)
        {
            for (var chunk = 0; chunk < 4; chunk++)
            {
                await Check<SegmentState>(StateNames.SegmentChunk(segment, chunk));
            }
        }

        for (long page = 0; page < 4; page++)
        {
            await Check<InFlightPageState>(StateNames.InFlightPage(page));
        }

        return found;
    }

    [Fact]
    public async Task Delete_RemovesEveryRecord_KeepsItsDeadLetters_AndTheNameStartsANewEmptyQueue()
    {
        var queue = C.Queue(NewQueueName());
        await queue.ConfigureAsync(new QueueSettings { MaxDeliveryCount = 3 });
        await queue.SendBatchAsync(Enumerable.Range(1, 18).Select(i => Text($"m{i}", $"id-{i}")));
        var locked = await queue.ReceiveAsync(5);
        await queue.CompleteAsync(locked.Take(2).Select(l => l.LockToken));
        await queue.DeadLetterAsync(locked[2], "bad");
        await Wait.UntilAsync(() => C.DeadLettersOf(queue.Name), d => d.Count == 1, "the dead-lettered message reaches the dead-letter grain");
        Assert.Contains(StateNames.Meta, await StoredRecordsOf(queue.Name));

        Assert.Equal(15, await queue.DeleteAsync()); // 18 sent, 2 completed, 1 dead-lettered: 2 of them locked still
        Assert.Empty(await StoredRecordsOf(queue.Name));
        Assert.Equal("m3", Assert.Single(await C.DeadLettersOf(queue.Name)).Message.BodyAsString());

        // The name now stands for a new, empty queue: counters, settings, locks and duplicate-detection ids are gone.
        await Assert.ThrowsAsync<QueueException>(() => queue.CompleteAsync(locked[3]));
        var stats = await queue.GetStatsAsync();
        Assert.Equal((0L, 0L, 0L, 0L), (stats.ActiveCount, stats.TotalEnqueued, stats.TotalCompleted, stats.TotalDeadLettered));
        Assert.NotEqual(3, (await queue.GetSettingsAsync()).MaxDeliveryCount);
        Assert.Equal(1, await queue.SendAsync(Text("m1 again", "id-1"))); // not a duplicate: its id went with the queue
        var received = Assert.Single(await queue.ReceiveAsync(10));
        Assert.Equal(("m1 again", 1), (received.Message.BodyAsString(), received.Message.DeliveryCount));

        // Deleting an empty queue, or one never used, removes the little it has.
        await queue.CompleteAsync(received);
        Assert.Equal(0, await queue.DeleteAsync());
        Assert.Empty(await StoredRecordsOf(queue.Name));
        Assert.Equal(0, await C.Queue(NewQueueName()).DeleteAsync());
    }

    [Fact]
    public async Task SendsFromSeveralProducers_RacingADelete_AreStoredOnce_AndThoseSentAfterItAreInTheNewQueue()
    {
        var queue = C.Queue(NewQueueName());
        var deleted = 0;
        var sentAfter = new System.Collections.Concurrent.ConcurrentBag<string>();
        async Task ProduceAsync(int producer)
        {
            for (var i = 0; i < 60; i++)
            {
                var id = $"p{producer}-{i}";
                var afterDelete = Volatile.Read(ref deleted) == 1; // started after DeleteAsync returned: the new queue's
                await queue.SendAsync(Text(id, id));
                if (afterDelete)
                {
                    sentAfter.Add(id);
                }
            }
        }

        var producers = Enumerable.Range(0, 4).Select(ProduceAsync).ToArray();
        await Wait.UntilAsync(() => queue.GetStatsAsync(), s => s.TotalEnqueued >= 40, "the producers are under way");
        var removed = await queue.DeleteAsync();
        Volatile.Write(ref deleted, 1);
        await Task.WhenAll(producers);

        var remaining = new List<string>();
        while (await queue.ReceiveAsync(100) is { Count: > 0 } batch)
        {
            remaining.AddRange(batch.Select(r => r.Message.MessageId));
            await queue.CompleteAsync(batch.Select(r => r.LockToken));
        }

        Assert.Equal(remaining.Count, remaining.Distinct().Count()); // none stored twice
        Assert.Empty(sentAfter.Except(remaining)); // every send made after the delete returned is in the new queue
        Assert.InRange(removed, 40, 240);
        Assert.InRange(removed + remaining.Count, 240, 240 + 4); // each message once, but a send in flight at the delete,
        // written before it and retried by the client after a lost answer, may be in both
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ADeletionCutShort_IsFinishedWhenTheQueueNextLoads_BeforeAnyCall(bool holes)
    {
        var name = NewQueueName();
        var queue = C.Queue(name);
        for (var i = 1; i <= 38; i++)
        {
            await queue.SendAsync(Text($"m{i}", $"id-{i}")); // segments of 4: 0 to 9
        }

        await C.Cluster.DeactivateAsync(C.Grain(name));
        var storage = C.Storage();
        var grainId = C.Grain(name).GetGrainId();
        var meta = new GrainState<QueueMetaState>();
        await storage.ReadStateAsync(StateNames.Meta, grainId, meta);
        meta.State ??= new QueueMetaState();
        meta.State.Deleting = true;
        if (holes)
        {
            // Cut short after the first parallel deletes (the mark names the real tail): holes between survivors.
            meta.State.TailSegment = 9;
            foreach (var segment in new long[] { 9, 7, 6, 3 })
            {
                foreach (var chunk in new[] { 1, 0 })
                {
                    var record = new GrainState<SegmentState>();
                    await storage.ReadStateAsync(StateNames.SegmentChunk(segment, chunk), grainId, record);
                    if (record.RecordExists)
                    {
                        await storage.ClearStateAsync(StateNames.SegmentChunk(segment, chunk), grainId, record);
                    }
                }
            }
        }
        else
        {
            // Cut short right after the mark was written, by a cursor whose tail hint lags nine segments behind.
            meta.State.TailSegment = 0;
        }

        await storage.WriteStateAsync(StateNames.Meta, grainId, meta);

        var stats = await queue.GetStatsAsync(); // the first call: the queue finishes the deletion, then answers
        Assert.Equal((0L, 0L), (stats.ActiveCount, stats.TotalEnqueued));
        Assert.Empty(await StoredRecordsOf(name));
        Assert.Equal(1, await queue.SendAsync(Text("after", "id-1")));
    }

    [Fact]
    public async Task DuplicateDetectionWindow_PerQueue_DecidesWhichRetriesAreStoredOnce_AndIsStoredWithTheQueue()
    {
        var name = NewQueueName();
        var queue = C.Queue(name);
        var siloDefault = (await queue.GetSettingsAsync()).DuplicateDetectionWindow;
        Assert.True(siloDefault > TimeSpan.FromMinutes(1));

        await queue.ConfigureAsync(new QueueSettings { DuplicateDetectionWindow = TimeSpan.FromMinutes(1) });
        var first = await queue.SendAsync(Text("a", "id-a"));
        Assert.Equal(first, await queue.SendAsync(Text("a", "id-a"))); // a retry within the window: stored once
        await C.Cluster.DeactivateAsync(C.Grain(name)); // stored with the queue: a reload keeps the window and the ids
        Assert.Equal(TimeSpan.FromMinutes(1), (await queue.GetSettingsAsync()).DuplicateDetectionWindow);
        Assert.Equal(first, await queue.SendAsync(Text("a", "id-a")));
        C.Time.Advance(TimeSpan.FromSeconds(61));
        var second = await queue.SendAsync(Text("a", "id-a"));
        Assert.Equal(first + 1, second); // out of the window: a new message

        // Zero turns it off for this queue; a later partial update leaves it as it is.
        await queue.ConfigureAsync(new QueueSettings { DuplicateDetectionWindow = TimeSpan.Zero });
        await queue.ConfigureAsync(new QueueSettings { MaxDeliveryCount = 4 });
        var settings = await queue.GetSettingsAsync();
        Assert.Equal((TimeSpan.Zero, 4), (settings.DuplicateDetectionWindow!.Value, settings.MaxDeliveryCount!.Value));
        Assert.Equal(second + 1, await queue.SendAsync(Text("b", "id-b")));
        Assert.Equal(second + 2, await queue.SendAsync(Text("b", "id-b")));

        // Back to the silo's default: ids are remembered again, from then on.
        await queue.ResetSettingsAsync();
        Assert.Equal(siloDefault, (await queue.GetSettingsAsync()).DuplicateDetectionWindow);
        var third = await queue.SendAsync(Text("c", "id-c"));
        Assert.Equal(third, await queue.SendAsync(Text("c", "id-c")));
        Assert.Equal(5, (await queue.GetStatsAsync()).TotalEnqueued);
    }

    [Fact]
    public async Task MaxLength_RejectNew_RefusesSendsPastIt_AndStoresNothing()
    {
        var queue = C.Queue(NewQueueName());
        await queue.ConfigureAsync(new QueueSettings { MaxLength = 3 });
        Assert.Equal((3L, QueueOverflow.RejectNew), ((await queue.GetSettingsAsync()).MaxLength!.Value, (await queue.GetSettingsAsync()).Overflow!.Value));
        await queue.SendBatchAsync([Text("m1"), Text("m2")]);
        Assert.Equal(QueueErrorCode.QueueFull, (await Assert.ThrowsAsync<QueueException>(() => queue.SendBatchAsync([Text("m3"), Text("m4")]))).Code);
        await queue.SendAsync("m3");
        Assert.Equal(QueueErrorCode.QueueFull, (await Assert.ThrowsAsync<QueueException>(() => queue.SendAsync("m4"))).Code);
        var stats = await queue.GetStatsAsync();
        Assert.Equal((3L, 3L, 0L), (stats.ActiveCount, stats.TotalEnqueued, stats.TotalDropped));

        await queue.CompleteAsync((await queue.ReceiveAsync(1))[0]);
        Assert.Equal(4, await queue.SendAsync("m4")); // room again
    }

    [Fact]
    public async Task MaxLength_DropOldest_DropsTheOldestReadyMessages_NeverLockedOnes_AndCountsThem()
    {
        var name = NewQueueName();
        var queue = C.Queue(name);
        await queue.ConfigureAsync(new QueueSettings { MaxLength = 3, Overflow = QueueOverflow.DropOldest });
        await queue.SendBatchAsync([Text("m1"), Text("m2"), Text("m3")]);
        var locked = Assert.Single(await queue.ReceiveAsync(1));
        Assert.Equal("m1", locked.Message.BodyAsString());

        await queue.SendAsync("m4"); // m2, the oldest ready message, makes room
        await queue.SendAsync("m5"); // then m3
        var stats = await queue.GetStatsAsync();
        Assert.Equal((3L, 2L, 5L), (stats.ActiveCount, stats.TotalDropped, stats.TotalEnqueued));

        // Stored with the queue: a reload finds neither dropped message, and the count.
        await C.Cluster.DeactivateAsync(C.Grain(name));
        Assert.Equal(2, (await queue.GetStatsAsync()).TotalDropped);
        var ready = await queue.ReceiveAsync(10);
        Assert.Equal(["m4", "m5"], ready.Select(r => r.Message.BodyAsString()));

        // Nothing ready to take (all three locked), or a batch longer than the queue: refused, nothing stored.
        var full = await Assert.ThrowsAsync<QueueException>(() => queue.SendAsync("m6"));
        Assert.Equal(QueueErrorCode.QueueFull, full.Code);
        Assert.Contains("locked", full.Message);
        await queue.CompleteAsync(ready.Select(r => r.LockToken));
        Assert.Equal(QueueErrorCode.QueueFull, (await Assert.ThrowsAsync<QueueException>(() => queue.SendBatchAsync([Text("a"), Text("b"), Text("c"), Text("d")]))).Code);
        Assert.Equal(5, (await queue.GetStatsAsync()).TotalEnqueued);
    }

    [Fact]
    public async Task MaxLength_DeadLetterOldest_MovesTheOldestReadyMessagesToTheDeadLetterGrain()
    {
        var queue = C.Queue(NewQueueName());
        await queue.ConfigureAsync(new QueueSettings { MaxLength = 2, Overflow = QueueOverflow.DeadLetterOldest });
        foreach (var text in new[] { "m1", "m2", "m3", "m4" })
        {
            await queue.SendAsync(text);
        }

        var entries = await Wait.UntilAsync(() => C.DeadLettersOf(queue.Name), d => d.Count == 2, "the two oldest reach the dead-letter grain");
        Assert.Equal(["m1", "m2"], entries.OrderBy(e => e.Message.SequenceNumber).Select(e => e.Message.BodyAsString()));
        Assert.All(entries, e => Assert.Equal(DeadLetterReason.MaxLengthExceeded, e.Reason));
        Assert.Equal(["m3", "m4"], (await queue.ReceiveAsync(10)).Select(r => r.Message.BodyAsString()));
        var stats = await queue.GetStatsAsync();
        Assert.Equal((2L, 0L), (stats.TotalDeadLettered, stats.TotalDropped));
    }

    [Fact]
    public async Task MaxLengthBytes_CountsBodies_RefusesOrMakesRoom_AndTheCountIsStoredWithTheQueue()
    {
        var name = NewQueueName();
        var queue = C.Queue(name);
        OutgoingMessage Body(int bytes) => new(new byte[bytes]);
        async Task<long> Bytes() => (await queue.GetStatsAsync()).LengthBytes;
        async Task Full(OutgoingMessage message) =>
            Assert.Equal(QueueErrorCode.QueueFull, (await Assert.ThrowsAsync<QueueException>(() => queue.SendAsync(message))).Code);

        await queue.ConfigureAsync(new QueueSettings { MaxLengthBytes = 100 });
        await queue.SendAsync(Body(40));
        await queue.SendAsync(Body(40));
        Assert.Equal(80, await Bytes());
        await Full(Body(30));
        await queue.SendAsync(Body(20));
        Assert.Equal(100, await Bytes());

        // Stored with the queue: after a reload the count is the same (messages sent after the cursor's last write are
        // counted as the queue loads them).
        await C.Cluster.DeactivateAsync(C.Grain(name));
        Assert.Equal(100, await Bytes());
        var first = Assert.Single(await queue.ReceiveAsync(1));
        await queue.CompleteAsync(first);
        Assert.Equal(60, await Bytes());

        // Making room by bytes: the oldest ready message (40 bytes) goes for one of 50; one larger than the limit never fits.
        await queue.ConfigureAsync(new QueueSettings { Overflow = QueueOverflow.DropOldest });
        await queue.SendAsync(Body(50));
        var stats = await queue.GetStatsAsync();
        Assert.Equal((70L, 1L, 2L), (stats.LengthBytes, stats.TotalDropped, stats.ActiveCount));
        await Full(Body(101));

        await queue.ConfigureAsync(new QueueSettings { Overflow = QueueOverflow.DeadLetterOldest });
        await queue.SendAsync(Body(60)); // 30 over: the 20- and the 50-byte messages go (and leave the count at once)
        Assert.Equal(60, await Bytes());
        var moved = await Wait.UntilAsync(() => C.DeadLettersOf(name), d => d.Count == 2, "the two oldest reach the dead-letter grain");
        Assert.All(moved, e => Assert.Equal(DeadLetterReason.MaxLengthExceeded, e.Reason));
        var held = await queue.ReceiveAsync(10);
        Assert.Equal(held.Sum(r => (long)r.Message.Body.Length), await Bytes());
        Assert.Equal([60], held.Select(r => r.Message.Body.Length));

        // Zero: no limit.
        await queue.ConfigureAsync(new QueueSettings { MaxLengthBytes = 0 });
        await queue.SendAsync(Body(1000));
        await queue.CompleteAsync(held.Select(r => r.LockToken));
        Assert.Equal(1000, await Bytes());
        await queue.PurgeAsync();
        Assert.Equal(0, await Bytes());
    }

    [Fact]
    public async Task LengthBytes_CountsMessagesStoredAfterTheCursorsLastWrite_WhenTheQueueLoads()
    {
        var name = NewQueueName();
        var queue = C.Queue(name);
        for (var i = 1; i <= 10; i++)
        {
            await queue.SendAsync(new OutgoingMessage(new byte[i * 10])); // 550 bytes in three segments
        }

        // As a crash leaves it when the cursor was last written before these sends: an empty cursor record.
        await C.Cluster.DeactivateAsync(C.Grain(name));
        var storage = C.Storage();
        var grainId = C.Grain(name).GetGrainId();
        var meta = new GrainState<QueueMetaState>();
        await storage.ReadStateAsync(StateNames.Meta, grainId, meta);
        meta.State = new QueueMetaState { LengthBytesBelowSeq = 1 };
        await storage.WriteStateAsync(StateNames.Meta, grainId, meta);

        var stats = await queue.GetStatsAsync();
        Assert.Equal((10L, 550L), (stats.ActiveCount, stats.LengthBytes));
        await queue.CompleteAsync((await queue.ReceiveAsync(3)).Select(r => r.LockToken)); // 10 + 20 + 30
        Assert.Equal(490, (await queue.GetStatsAsync()).LengthBytes);
        await C.Cluster.DeactivateAsync(C.Grain(name)); // the cursor is written now: counted once, not again
        Assert.Equal(490, (await queue.GetStatsAsync()).LengthBytes);
    }

    [Fact]
    public async Task ScheduledMessages_JoinTheQueueAtTheirTime_NotBefore()
    {
        var queue = C.Queue(NewQueueName());
        var start = C.Time.GetUtcNow();
        var late = await queue.ScheduleMessageAsync(Text("in an hour", "late"), start.AddHours(1));
        var soon = await queue.SendAsync(Text("in half an hour", "soon") with { ScheduledEnqueueTime = start.AddMinutes(30), Subject = "s" });
        Assert.Equal(1, await queue.SendAsync(Text("now") with { ScheduledEnqueueTime = start.AddSeconds(-5) })); // in the past: at once
        Assert.All(new[] { late, soon }, n => Assert.True(n >= QueueLimits.FirstScheduledSequenceNumber));
        Assert.NotEqual(late, soon);

        var stats = await queue.GetStatsAsync();
        Assert.Equal((2L, 1L, 1L), (stats.ScheduledCount, stats.ActiveCount, stats.TotalEnqueued));
        var now = Assert.Single(await queue.ReceiveAsync(10));
        Assert.Equal("now", now.Message.BodyAsString());
        await queue.CompleteAsync(now);
        Assert.Empty(await queue.PeekAsync(10)); // peek sees the queue, not the schedule

        C.Time.Advance(TimeSpan.FromMinutes(29));
        Assert.Empty(await queue.ReceiveAsync(10));
        C.Time.Advance(TimeSpan.FromMinutes(1)); // its time: the queue's timer moves it
        var first = Assert.Single(await Wait.UntilAsync(() => queue.ReceiveAsync(10, TimeSpan.FromHours(1)), r => r.Count > 0, "the half-hour message is deliverable"));
        Assert.Equal(("in half an hour", "soon", 2L, "s"), (first.Message.BodyAsString(), first.Message.MessageId, first.Message.SequenceNumber, first.Message.Subject));
        Assert.Equal(start.AddMinutes(30), first.Message.ScheduledEnqueueTime);
        Assert.Equal((1L, 2L), ((await queue.GetStatsAsync()).ScheduledCount, (await queue.GetStatsAsync()).TotalEnqueued));

        C.Time.Advance(TimeSpan.FromMinutes(30));
        var second = Assert.Single(await Wait.UntilAsync(() => queue.ReceiveAsync(10), r => r.Count > 0, "the hour message is deliverable"));
        Assert.Equal(("late", 3L), (second.Message.MessageId, second.Message.SequenceNumber));
        Assert.Equal(0, (await queue.GetStatsAsync()).ScheduledCount);
        Assert.False(await queue.CancelScheduledMessageAsync(late)); // deliverable now: nothing to cancel
        await queue.CompleteAsync([first.LockToken, second.LockToken]);
    }

    [Fact]
    public async Task ScheduledMessages_SurviveReactivation_CancelRemovesThem_AndRetriesStoreOnce()
    {
        var name = NewQueueName();
        var queue = C.Queue(name);
        var due = C.Time.GetUtcNow().AddMinutes(10);
        var numbers = await queue.SendBatchAsync(Enumerable.Range(0, 40).Select(i => Text($"m{i}", $"id-{i}") with { ScheduledEnqueueTime = due.AddSeconds(i % 3) }));
        Assert.Equal(40, numbers.Distinct().Count());
        await C.Cluster.DeactivateAsync(C.Grain(name));

        // A producer's retry after a reload (same ids) stores nothing again and gets the same numbers.
        Assert.Equal(numbers[..5], await queue.SendBatchAsync(Enumerable.Range(0, 5).Select(i => Text($"m{i}", $"id-{i}") with { ScheduledEnqueueTime = due })));
        Assert.True(await queue.CancelScheduledMessageAsync(numbers[7]));
        Assert.False(await queue.CancelScheduledMessageAsync(numbers[7]));
        Assert.False(await queue.CancelScheduledMessageAsync(numbers[^1] + 1000)); // never handed out
        await C.Cluster.DeactivateAsync(C.Grain(name));
        Assert.Equal(39, (await queue.GetStatsAsync()).ScheduledCount);

        C.Time.Advance(TimeSpan.FromMinutes(11));
        var received = new List<ReceivedMessage>();
        await Wait.UntilAsync(async () => { received.AddRange(await queue.ReceiveAsync(100)); return received.Count; }, n => n >= 39, "the 39 scheduled messages are deliverable");
        Assert.Equal(Enumerable.Range(0, 40).Where(i => i != 7).Select(i => $"id-{i}").Order(), received.Select(r => r.Message.MessageId).Order());
        Assert.Equal(Enumerable.Range(1, 39).Select(i => (long)i), received.Select(r => r.Message.SequenceNumber).Order());
        await queue.CompleteAsync(received.Select(r => r.LockToken));

        // Every schedule record is gone once its messages left it; the index stays, empty.
        var index = new GrainState<ScheduleIndexState>();
        await C.Storage().ReadStateAsync(StateNames.ScheduleIndex, C.Grain(name).GetGrainId(), index);
        Assert.Empty(index.State!.Segments);
        var chunk = new GrainState<ScheduleChunkState>();
        await C.Storage().ReadStateAsync(StateNames.ScheduleChunk(0, 0), C.Grain(name).GetGrainId(), chunk);
        Assert.False(chunk.RecordExists);
        Assert.Equal((0L, 0L), ((await queue.GetStatsAsync()).ScheduledCount, (await queue.GetStatsAsync()).ActiveCount));
    }

    [Fact]
    public async Task ScheduledMoveCutShort_IsFinishedOnLoad_EachMessageDeliveredOnce()
    {
        var name = NewQueueName();
        var queue = C.Queue(name);
        var due = C.Time.GetUtcNow().AddMinutes(5);
        var landed = await queue.ScheduleMessageAsync(Text("landed", "a"), due);
        var notLanded = await queue.ScheduleMessageAsync(Text("not landed", "b"), due);
        await C.Cluster.DeactivateAsync(C.Grain(name));

        // As a crash leaves it: the move of both recorded, one of them stored in the queue, neither taken off the schedule.
        await C.Client.GetGrain<OrleansQueue.Internal.IQueueRedriveTarget>(name).EnqueueRedriven([Text("landed", "a")], ["oq-sched:" + landed]);
        await C.Cluster.DeactivateAsync(C.Grain(name));
        var storage = C.Storage();
        var grainId = C.Grain(name).GetGrainId();
        var index = new GrainState<ScheduleIndexState>();
        await storage.ReadStateAsync(StateNames.ScheduleIndex, grainId, index);
        index.State!.Moving = new ScheduleMove { Numbers = [landed, notLanded], FromSeq = 1 };
        await storage.WriteStateAsync(StateNames.ScheduleIndex, grainId, index);

        var stats = await queue.GetStatsAsync();
        Assert.Equal((1L, 1L), (stats.ScheduledCount, stats.ActiveCount));
        Assert.False(await queue.CancelScheduledMessageAsync(landed));
        C.Time.Advance(TimeSpan.FromMinutes(6));
        var received = new List<ReceivedMessage>();
        await Wait.UntilAsync(async () => { received.AddRange(await queue.ReceiveAsync(10)); return received.Count; }, n => n >= 2, "both messages are deliverable");
        await queue.CompleteAsync(received.Select(r => r.LockToken));
        C.Time.Advance(TimeSpan.FromMinutes(6));
        received.AddRange(await queue.ReceiveAsync(10));
        Assert.Equal(["a", "b"], received.Select(r => r.Message.MessageId).Order());
        Assert.Equal((0L, 2L), ((await queue.GetStatsAsync()).ScheduledCount, (await queue.GetStatsAsync()).TotalEnqueued));
    }

    [Fact]
    public async Task ScheduledMessages_WaitWhileTheQueueIsFull_AndConcurrentRetriesStoreOnce()
    {
        var queue = C.Queue(NewQueueName());
        await queue.ConfigureAsync(new QueueSettings { MaxLength = 2 }); // RejectNew
        await queue.SendBatchAsync([Text("a"), Text("b")]);
        var due = C.Time.GetUtcNow().AddMinutes(1);
        var sends = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => C.Grain(queue.Name).Enqueue([Text("later", "same-id") with { ScheduledEnqueueTime = due }])));
        Assert.Single(sends.Select(s => s[0]).Distinct());
        await queue.SendAsync(Text("later 2") with { ScheduledEnqueueTime = due });
        Assert.Equal(2, (await queue.GetStatsAsync()).ScheduledCount);

        C.Time.Advance(TimeSpan.FromMinutes(2)); // due, and the queue is full: they wait
        Assert.Equal(2, (await Wait.UntilAsync(() => queue.GetStatsAsync(), s => s.ScheduledCount == 2, "they stay scheduled")).ScheduledCount);
        var first = await queue.ReceiveAsync(2, TimeSpan.FromHours(1));
        await queue.CompleteAsync(first[0]); // room for one
        C.Time.Advance(TimeSpan.FromSeconds(6));
        await Wait.UntilAsync(() => queue.GetStatsAsync(), s => s.ScheduledCount == 1 && s.ActiveCount == 2, "one joined the queue");
        await queue.CompleteAsync(first[1]);
        C.Time.Advance(TimeSpan.FromSeconds(6));
        await Wait.UntilAsync(() => queue.GetStatsAsync(), s => s.ScheduledCount == 0 && s.ActiveCount == 2, "the other joined the queue");
        var rest = await queue.ReceiveAsync(10, TimeSpan.FromHours(1));
        Assert.Equal(["later", "later 2"], rest.Select(r => r.Message.BodyAsString()).Order());
        await queue.CompleteAsync(rest.Select(r => r.LockToken));
    }

    [Fact]
    public async Task PurgeAndDelete_RemoveScheduledMessages()
    {
        var name = NewQueueName();
        var queue = C.Queue(name);
        var due = C.Time.GetUtcNow().AddDays(3);
        await queue.SendAsync("ready");
        await queue.SendBatchAsync(Enumerable.Range(0, 20).Select(i => Text($"s{i}") with { ScheduledEnqueueTime = due.AddHours(i) }));
        Assert.Equal(21, await queue.PurgeAsync());
        Assert.Equal(0, (await queue.GetStatsAsync()).ScheduledCount);

        await queue.SendBatchAsync(Enumerable.Range(0, 20).Select(i => Text($"t{i}") with { ScheduledEnqueueTime = due.AddHours(i) }));
        await C.Cluster.DeactivateAsync(C.Grain(name));
        Assert.Equal(20, await queue.DeleteAsync());
        var index = new GrainState<ScheduleIndexState>();
        await C.Storage().ReadStateAsync(StateNames.ScheduleIndex, C.Grain(name).GetGrainId(), index);
        Assert.False(index.RecordExists);
        C.Time.Advance(TimeSpan.FromDays(4));
        Assert.Equal((0L, 0L), ((await queue.GetStatsAsync()).ScheduledCount, (await queue.GetStatsAsync()).ActiveCount));
    }

    [Fact]
    public async Task ExpiredMessages_AreNeverDelivered_AndDroppedAndCounted()
    {
        var queue = C.Queue(NewQueueName());
        await queue.ConfigureAsync(new QueueSettings { DefaultMessageTimeToLive = TimeSpan.FromMinutes(1) });
        Assert.Equal(TimeSpan.FromMinutes(1), (await queue.GetSettingsAsync()).DefaultMessageTimeToLive);
        var sent = C.Time.GetUtcNow();
        await queue.SendAsync(Text("short") with { TimeToLive = TimeSpan.FromSeconds(10) });
        await queue.SendAsync(Text("queue's"));
        await queue.SendAsync(Text("long") with { TimeToLive = TimeSpan.FromHours(1) }); // the queue's minute is shorter

        C.Time.Advance(TimeSpan.FromSeconds(11));
        var received = await queue.ReceiveAsync(10, TimeSpan.FromHours(2));
        Assert.Equal(["queue's", "long"], received.Select(r => r.Message.BodyAsString()));
        Assert.All(received, r => Assert.Equal(sent.AddMinutes(1), r.Message.ExpiresAt));
        Assert.Equal(1, (await queue.GetStatsAsync()).TotalExpired);

        // A locked message does not expire; abandoned after its time, it is not delivered again.
        C.Time.Advance(TimeSpan.FromMinutes(2));
        await queue.AbandonAsync(received[0]);
        await queue.CompleteAsync(received[1]);
        Assert.Empty(await queue.ReceiveAsync(10));
        var stats = await queue.GetStatsAsync();
        Assert.Equal((2L, 0L, 1L), (stats.TotalExpired, stats.ActiveCount, stats.TotalCompleted));
    }

    [Fact]
    public async Task ExpiredMessagesAtTheHead_DoNotHideValidOnesBehindThem_FromReceivesOrPushes()
    {
        var queue = C.Queue(NewQueueName());
        await queue.SendBatchAsync(Enumerable.Range(0, 12).Select(i => Text($"old{i}") with { TimeToLive = TimeSpan.FromSeconds(10) })); // three segments: past the window
        await queue.SendBatchAsync(Enumerable.Range(0, 4).Select(i => Text($"new{i}")));
        C.Time.Advance(TimeSpan.FromSeconds(11));
        var received = await queue.ReceiveAsync(4, TimeSpan.FromHours(1));
        Assert.Equal(["new0", "new1", "new2", "new3"], received.Select(r => r.Message.BodyAsString()));
        await queue.CompleteAsync(received.Select(r => r.LockToken));
        Assert.Equal(12, (await queue.GetStatsAsync()).TotalExpired);

        // A push consumer gets only what has not expired.
        await queue.SendBatchAsync(Enumerable.Range(0, 12).Select(i => Text($"old{i}") with { TimeToLive = TimeSpan.FromSeconds(10) }));
        await queue.SendAsync("pushed");
        C.Time.Advance(TimeSpan.FromSeconds(11));
        var consumerName = "ttl-" + Guid.NewGuid().ToString("N")[..8];
        var script = ConsumerScript.For(consumerName);
        await queue.SubscribeAsync(C.Client.GetGrain<ITestConsumerGrain>(consumerName));
        await Wait.UntilAsync(() => Task.FromResult(script.Succeeded.Count), n => n == 1, "the valid message is pushed");
        Assert.Equal("pushed", Assert.Single(script.Deliveries).Message.BodyAsString());
        Assert.Equal(24, (await Wait.UntilAsync(() => queue.GetStatsAsync(), s => s.ActiveCount == 0, "the queue is empty")).TotalExpired);
    }

    [Fact]
    public async Task TheSweep_ExpiresMessagesNobodyReceives_ThroughTheWholeQueue_OrDeadLettersThem()
    {
        var dropping = C.Queue(NewQueueName());
        await dropping.ConfigureAsync(new QueueSettings { DefaultMessageTimeToLive = TimeSpan.FromMinutes(1) });
        await dropping.SendBatchAsync(Enumerable.Range(0, 40).Select(i => Text($"m{i}"))); // ten 4-message segments, a 2-segment window
        var deadLettering = C.Queue(NewQueueName());
        await deadLettering.ConfigureAsync(new QueueSettings { DeadLetterOnMessageExpiration = true });
        await deadLettering.SendBatchAsync([Text("x", "x-1") with { TimeToLive = TimeSpan.FromSeconds(30) }, Text("y") ]);

        C.Time.Advance(TimeSpan.FromMinutes(2)); // the timers sweep
        await Wait.UntilAsync(() => dropping.GetStatsAsync(), s => s.TotalExpired == 40 && s.ActiveCount == 0, "every message expired");
        var entry = Assert.Single(await Wait.UntilAsync(() => C.DeadLettersOf(deadLettering.Name), e => e.Count > 0, "the expired message is dead-lettered"));
        Assert.Equal(("x-1", DeadLetterReason.TimeToLiveExpired), (entry.Message.MessageId, entry.Reason));
        var stats = await deadLettering.GetStatsAsync();
        Assert.Equal((0L, 1L, 1L), (stats.TotalExpired, stats.TotalDeadLettered, stats.ActiveCount));
    }

    [Fact]
    public async Task ScheduledMessages_TimeToLive_CountsFromTheirScheduledTime()
    {
        var queue = C.Queue(NewQueueName());
        var at = C.Time.GetUtcNow().AddMinutes(10);
        await queue.SendAsync(Text("s") with { ScheduledEnqueueTime = at, TimeToLive = TimeSpan.FromMinutes(1) });
        C.Time.Advance(TimeSpan.FromMinutes(10.5));
        var delivery = Assert.Single(await Wait.UntilAsync(() => queue.ReceiveAsync(1, TimeSpan.FromHours(1)), r => r.Count > 0, "the scheduled message is deliverable"));
        Assert.InRange(delivery.Message.ExpiresAt!.Value, at.AddMinutes(1), at.AddMinutes(1).AddSeconds(1));
        await queue.CompleteAsync(delivery);
    }

    [Fact]
    public async Task Create_FixesTheSettings_UntilTheQueueIsDeleted()
    {
        var name = NewQueueName();
        var queue = C.Queue(name);
        var settings = new QueueSettings { LockDuration = TimeSpan.FromMinutes(2), MaxLength = 50, DefaultMessageTimeToLive = TimeSpan.FromHours(1) };
        await Assert.ThrowsAsync<QueueException>(() => queue.CreateAsync(settings with { MaxLength = 0 })); // invalid: nothing stored
        await queue.CreateAsync(settings);
        await queue.CreateAsync(settings); // a retry
        await C.Cluster.DeactivateAsync(C.Grain(name));

        var stored = await queue.GetSettingsAsync();
        Assert.Equal((TimeSpan.FromMinutes(2), 50L, TimeSpan.FromHours(1), 10), (stored.LockDuration, stored.MaxLength, stored.DefaultMessageTimeToLive, stored.MaxDeliveryCount));
        async Task Refused(QueueErrorCode code, Func<Task> call) => Assert.Equal(code, (await Assert.ThrowsAsync<QueueException>(call)).Code);
        await Refused(QueueErrorCode.SettingsFixed, () => queue.ConfigureAsync(new QueueSettings { MaxLength = 60 }));
        await Refused(QueueErrorCode.SettingsFixed, () => queue.ResetSettingsAsync());
        await Refused(QueueErrorCode.QueueAlreadyExists, () => queue.CreateAsync(settings with { MaxLength = 51 }));
        Assert.Equal(50, (await queue.GetSettingsAsync()).MaxLength);
        await queue.SendAsync("m");
        await queue.CreateAsync(settings); // the same settings: still a no-op

        // A queue that holds messages, or was configured, exists: create refuses it and changes nothing.
        var implicitQueue = C.Queue(NewQueueName());
        await implicitQueue.SendAsync("m");
        await Refused(QueueErrorCode.QueueAlreadyExists, () => implicitQueue.CreateAsync(settings));
        await implicitQueue.ConfigureAsync(new QueueSettings { MaxLength = 7 }); // still configurable
        Assert.Equal(7, (await implicitQueue.GetSettingsAsync()).MaxLength);

        // Deleted, the name is free again.
        await queue.DeleteAsync();
        await queue.CreateAsync(settings with { MaxLength = 51 });
        Assert.Equal(51, (await queue.GetSettingsAsync()).MaxLength);
    }

    [Fact]
    public async Task BadInput_IsRejectedWithAClearError_AndLeavesNoTrace()
    {
        var name = NewQueueName();
        var grain = C.Grain(name);
        var queue = C.Queue(name);
        await queue.SendAsync("keep");

        async Task Rejected(QueueErrorCode code, Func<Task> call)
        {
            var error = await Assert.ThrowsAsync<QueueException>(call);
            Assert.Equal(code, error.Code);
        }

        // Checked in the grain (a caller that skips the client handle) ...
        await Rejected(QueueErrorCode.MessageTooLarge, () => grain.Enqueue([new OutgoingMessage(new byte[256 * 1024 + 1])]));
        await Rejected(QueueErrorCode.InvalidMessageId, () => grain.Enqueue([Text("x", "")]));
        await Rejected(QueueErrorCode.InvalidMessageId, () => grain.Enqueue([Text("x", new string('a', 129))]));
        await Rejected(QueueErrorCode.InvalidMessageId, () => grain.Enqueue([Text("x", "a/b")]));
        await Rejected(QueueErrorCode.InvalidHeaders, () => grain.Enqueue([Text("x") with { Headers = new Dictionary<string, string> { ["h"] = new string('v', 64 * 1024) } }]));
        await Rejected(QueueErrorCode.InvalidArgument, () => grain.Enqueue([Text("x") with { CorrelationId = new string('c', 256) }]));
        await Rejected(QueueErrorCode.InvalidArgument, () => grain.Enqueue([Text("x") with { ReplyTo = string.Concat(Enumerable.Repeat("é", 128)) }])); // 256 bytes
        await Rejected(QueueErrorCode.InvalidArgument, () => grain.Enqueue([Text("x") with { Subject = "line\nbreak" }]));
        await Rejected(QueueErrorCode.InvalidArgument, () => grain.Configure(new QueueSettings { DuplicateDetectionWindow = TimeSpan.FromDays(7) + TimeSpan.FromTicks(1) }));
        await Rejected(QueueErrorCode.InvalidArgument, () => grain.Configure(new QueueSettings { DuplicateDetectionWindow = TimeSpan.FromMilliseconds(500) }));
        await Rejected(QueueErrorCode.InvalidArgument, () => grain.Configure(new QueueSettings { DuplicateDetectionWindow = TimeSpan.FromSeconds(-1) }));
        await Rejected(QueueErrorCode.InvalidArgument, () => grain.Configure(new QueueSettings { MaxLength = 0 }));
        await Rejected(QueueErrorCode.InvalidArgument, () => grain.Configure(new QueueSettings { MaxLength = 10_000_001 }));
        await Rejected(QueueErrorCode.InvalidArgument, () => grain.Configure(new QueueSettings { Overflow = (QueueOverflow)7 }));
        await Rejected(QueueErrorCode.InvalidArgument, () => grain.Configure(new QueueSettings { MaxLengthBytes = -1 }));
        await Rejected(QueueErrorCode.InvalidArgument, () => grain.Enqueue([Text("x") with { ScheduledEnqueueTime = C.Time.GetUtcNow() + QueueLimits.MaxScheduleAhead + TimeSpan.FromSeconds(1) }]));
        await Rejected(QueueErrorCode.InvalidArgument, () => grain.Enqueue([Text("x") with { TimeToLive = TimeSpan.Zero }]));
        await Rejected(QueueErrorCode.InvalidArgument, () => grain.Enqueue([Text("x") with { TimeToLive = TimeSpan.FromSeconds(-1) }]));
        await Rejected(QueueErrorCode.InvalidArgument, () => grain.Enqueue([Text("x") with { TimeToLive = QueueLimits.MaxTimeToLive + TimeSpan.FromTicks(1) }]));
        await Rejected(QueueErrorCode.InvalidArgument, () => grain.Configure(new QueueSettings { DefaultMessageTimeToLive = TimeSpan.FromMilliseconds(-5) }));
        await Rejected(QueueErrorCode.InvalidArgument, () => queue.SendAsync(Text("x") with { TimeToLive = TimeSpan.FromTicks(1) }));
        await Rejected(QueueErrorCode.InvalidBatch, () => grain.Enqueue([]));
        await Rejected(QueueErrorCode.InvalidBatch, () => grain.Enqueue(Enumerable.Range(0, 17).Select(_ => new OutgoingMessage(new byte[256 * 1024])).ToArray()));
        await Rejected(QueueErrorCode.InvalidBatch, () => grain.Enqueue(Enumerable.Range(0, 1001).Select(_ => Text("x")).ToArray()));
        await Rejected(QueueErrorCode.InvalidLockDuration, () => grain.Receive(1, TimeSpan.Zero));
        await Rejected(QueueErrorCode.InvalidLockDuration, () => grain.Receive(1, TimeSpan.FromHours(13)));
        await Rejected(QueueErrorCode.InvalidArgument, () => grain.Receive(0, null));
        await Rejected(QueueErrorCode.InvalidArgument, () => grain.Receive(100_000, null));
        await Rejected(QueueErrorCode.MessageLockLost, () => grain.Abandon(Guid.NewGuid()));
        await Rejected(QueueErrorCode.MessageLockLost, () => grain.RenewLock(Guid.NewGuid(), null));
        await Rejected(QueueErrorCode.InvalidQueueName, () => C.Grain("bad/name").Enqueue([Text("x")]));
        await Rejected(QueueErrorCode.InvalidQueueName, () => C.Grain(new string('q', 121)).GetStats());

        // ... and in the client handle before any call.
        await Rejected(QueueErrorCode.MessageTooLarge, () => queue.SendAsync(new OutgoingMessage(new byte[256 * 1024 + 1])));
        await Rejected(QueueErrorCode.InvalidMessageId, () => queue.SendAsync("x", "bad\u0001id"));
        await Rejected(QueueErrorCode.InvalidArgument, () => queue.SendAsync(Text("x") with { ReplyTo = "tab\there" }));
        // (Orleans carries strings as UTF-8, so a lone surrogate reaches a grain as U+FFFD: only the handle can refuse it.)
        await Rejected(QueueErrorCode.InvalidArgument, () => queue.SendAsync(Text("x") with { Subject = "lone \ud800 surrogate" }));
        Assert.Equal(QueueErrorCode.InvalidQueueName, Assert.Throws<QueueException>(() => C.Client.GetQueue("orders#1")).Code);
        await Rejected(QueueErrorCode.InvalidArgument, () => queue.CancelScheduledMessageAsync(1));
        Assert.False(await grain.CancelScheduled(1));

        var stats = await queue.GetStatsAsync();
        Assert.Equal((1L, 1L, 0L), (stats.TotalEnqueued, stats.ReadyCount, stats.ScheduledCount));
        Assert.Equal("keep", Assert.Single(await queue.ReceiveAsync(10)).Message.BodyAsString());

        // The largest allowed body is accepted.
        Assert.Equal(2, await queue.SendAsync(new OutgoingMessage(new byte[256 * 1024])));
    }
}

public sealed class MemoryQueueBehaviorTests(MemoryClusterFixture fixture) : QueueBehaviorTests(fixture), IClassFixture<MemoryClusterFixture>
{
    private CountingGrainStorage Counter => (CountingGrainStorage)C.Storage();

    [Fact]
    public async Task ConcurrentSends_AreGroupCommitted_IntoFewStorageWrites()
    {
        var queue = C.Queue(NewQueueName());
        await queue.SendAsync("first"); // activation and the first segment
        var before = Counter.Writes;
        Counter.WriteLatency = TimeSpan.FromMilliseconds(10); // a storage round trip, as on Azure Table
        try
        {
            await Task.WhenAll(Enumerable.Range(0, 400).Select(i => queue.SendAsync($"m{i}")));
        }
        finally
        {
            Counter.WriteLatency = TimeSpan.Zero;
        }

        var writes = Counter.Writes - before;

        // 400 messages in four-message segments, which a commit may stretch to eight: at least 50 segment writes plus
        // a few cursor updates, not 400.
        Assert.InRange(writes, 50, 250);
        Assert.Equal(401, (await queue.GetStatsAsync()).TotalEnqueued);
    }

    [Fact]
    public async Task SendsRacingADelete_LandBeforeIt_AndAreDeleted_OrAfterIt_InANewEmptyQueue()
    {
        var queue = C.Queue(NewQueueName());
        await queue.SendAsync(Text("old", "id-old"));
        var writes = Counter.Writes;
        Counter.WriteLatency = TimeSpan.FromMilliseconds(300);
        Task<long> before, delete, after;
        try
        {
            before = queue.SendAsync(Text("before", "id-before"));
            await Wait.UntilAsync(() => Task.FromResult(Counter.Writes), w => w > writes, "the first send's write is under way");
            delete = queue.DeleteAsync();
            await Task.Delay(50); // the delete is waiting for that write
            after = queue.SendAsync(Text("after", "id-after"));
            Assert.Equal(2, await before); // confirmed by the old queue ...
            Assert.Equal(2, await delete); // ... and deleted with it
        }
        finally
        {
            Counter.WriteLatency = TimeSpan.Zero;
        }

        Assert.Equal(1, await after); // the first message of the new queue
        var stats = await queue.GetStatsAsync();
        Assert.Equal((1L, 1L), (stats.ActiveCount, stats.TotalEnqueued));
        Assert.Equal("after", Assert.Single(await queue.ReceiveAsync(10)).Message.BodyAsString());
    }

    [Fact]
    public async Task Delete_OfAQueueWithASubscriber_RemovesItFromTheRegistry_AndNothingIsPushedAfterwards()
    {
        var name = NewQueueName();
        var queue = C.Queue(name);
        var consumerName = "del-" + Guid.NewGuid().ToString("N")[..8];
        var script = ConsumerScript.For(consumerName);
        await queue.SubscribeAsync(C.Client.GetGrain<ITestConsumerGrain>(consumerName));
        await queue.SendAsync("pushed");
        await Wait.UntilAsync(() => Task.FromResult(script.Succeeded.Count), n => n == 1, "the message is pushed");
        var shard = C.Client.GetGrain<IQueueRegistryShard>(QueueRegistry.ShardOf(name));
        Assert.Contains(name, await shard.QueuesWithSubscribers());

        Assert.Equal(0, await queue.DeleteAsync());
        Assert.DoesNotContain(name, await shard.QueuesWithSubscribers());
        Assert.Empty(await StoredRecordsOf(name));

        await queue.SendAsync("not pushed: the subscription went with the queue");
        var waiting = await queue.WaitAndReceiveAsync(TimeSpan.FromSeconds(1), 10);
        Assert.Equal("not pushed: the subscription went with the queue", Assert.Single(waiting).Message.BodyAsString());
        Assert.Single(script.Deliveries);
    }

    [Fact]
    public async Task BadInput_CausesNoStorageWrite()
    {
        var queue = C.Queue(NewQueueName());
        await queue.SendAsync("keep");
        var grain = C.Grain(queue.Name);
        var unnamed = C.Grain("no\\such");
        // This test's grains only: queues of other tests may write meanwhile (their reminders run on real time).
        (int, int) Count() => (Counter.WritesBy(grain.GetGrainId()) + Counter.WritesBy(unnamed.GetGrainId()),
            Counter.ClearsBy(grain.GetGrainId()) + Counter.ClearsBy(unnamed.GetGrainId()));
        var before = Count();

        await Assert.ThrowsAsync<QueueException>(() => grain.Enqueue([new OutgoingMessage(new byte[256 * 1024 + 1])]));
        await Assert.ThrowsAsync<QueueException>(() => grain.Enqueue([OutgoingMessage.FromText("x", "a?b")]));
        await Assert.ThrowsAsync<QueueException>(() => grain.Receive(1, TimeSpan.FromDays(1)));
        await Assert.ThrowsAsync<QueueException>(() => grain.Complete([Guid.NewGuid()]));
        await Assert.ThrowsAsync<QueueException>(() => unnamed.Enqueue([OutgoingMessage.FromText("x")]));

        Assert.Equal(before, Count());
    }
}

public sealed class AzureTableQueueBehaviorTests(AzureTableClusterFixture fixture) : QueueBehaviorTests(fixture), IClassFixture<AzureTableClusterFixture>;

public sealed class AzureBlobQueueBehaviorTests(AzureBlobClusterFixture fixture) : QueueBehaviorTests(fixture), IClassFixture<AzureBlobClusterFixture>;

public sealed class PostgreSqlQueueBehaviorTests(PostgreSqlClusterFixture fixture) : QueueBehaviorTests(fixture), IClassFixture<PostgreSqlClusterFixture>;
