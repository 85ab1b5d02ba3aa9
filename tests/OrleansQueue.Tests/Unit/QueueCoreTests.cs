using OrleansQueue.Appending;
using OrleansQueue.DeadLetters;
using OrleansQueue.Delivery;
using OrleansQueue.Queues;
using OrleansQueue.Storage;
using MessageSegment = OrleansQueue.Storage.SegmentImage<OrleansQueue.Storage.SegmentState, OrleansQueue.Storage.StoredMessage>;

namespace OrleansQueue.Tests.Unit;

/// <summary>The segment, lease and completion logic, without a cluster or storage.</summary>
public sealed partial class QueueCoreTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly QueueCoreLimits Limits = new(SegmentMaxMessages: 4, SegmentMaxBytes: 64 * 1024, ActiveSegments: 2,
        DedupWindow: TimeSpan.FromMinutes(10), DedupMaxIds: 1000);

    /// <summary>A core plus a fake "storage" of the segments it wrote.</summary>
    private sealed class Harness
    {
        private QueueCoreLimits _limits;

        /// <summary>The log's tail as last "written", where the next append's plan starts.</summary>
        private MessageSegment _tail = MessageSegment.Empty(0, 1);

        public Dictionary<long, SegmentSnapshot> Stored { get; } = [];
        public QueueCore Core { get; private set; }

        public Harness(QueueCoreLimits? limits = null)
        {
            _limits = limits ?? Limits;
            Core = new QueueCore(_limits, SegmentSnapshot.Of(_tail), new QueueMetaState());
        }

        /// <summary>The core's plan for these messages, in an append of the log after the tail.</summary>
        public AppendPlan Plan(IReadOnlyList<PendingMessage> pending, DateTimeOffset now, int lease = 0) =>
            Core.PlanAppend(new SegmentAppend<SegmentState, StoredMessage>(_tail, _limits.Segments, Core.NextSeq), pending, now, lease, TimeSpan.FromSeconds(30));

        /// <summary>What the log does once a planned segment is written: it becomes the tail, and the core is told.</summary>
        public List<Lease> Written(MessageSegment segment, string etag, DateTimeOffset now)
        {
            _tail = segment with { ETag = etag };
            Stored[segment.Id] = SegmentSnapshot.Of(segment);
            return Core.SegmentWritten(segment, now);
        }

        private static SegmentState StateOf(SegmentSnapshot segment) => new() { FirstSequence = segment.FirstSeq, Messages = [.. segment.Messages] };

        public long[] Append(DateTimeOffset now, params string[] ids) => AppendLeasing(now, 0, ids).Sequences;

        /// <summary>Appends, storing up to <paramref name="lease"/> of the new messages already leased for 30 s.</summary>
        public (long[] Sequences, List<Lease> Leases) AppendLeasing(DateTimeOffset now, int lease, params string[] ids)
        {
            var pending = ids.Select(id => new PendingMessage(OutgoingMessage.FromText(id, id), id, 600)).ToList();
            var plan = Plan(pending, now, lease);
            var leases = new List<Lease>();
            foreach (var segment in plan.Segments)
            {
                leases.AddRange(Written(segment, "etag", now));
            }

            Assert.Equal(plan.LeasedOnAppend, leases.Count);
            return (plan.Sequences, leases);
        }

        public void FillWindow(DateTimeOffset now)
        {
            while (Core.NextSegmentToLoad is { } id)
            {
                Core.AddWindowSegment(id, StateOf(Stored[id]), now);
            }
        }

        /// <summary>The in-flight pages as stored by <see cref="WriteCursor"/>.</summary>
        public Dictionary<long, InFlightPageState> Pages { get; } = [];

        /// <summary>What the grain's cursor write does: the changed in-flight pages first, then the cursor record.</summary>
        public QueueMetaState WriteCursor(bool pagesOnly = false)
        {
            foreach (var write in Core.DirtyPages())
            {
                if (write.State is null)
                {
                    Pages.Remove(write.Id);
                }
                else
                {
                    Pages[write.Id] = write.State;
                }

                Core.PageWritten(write, write.State is null ? null : "etag");
            }

            var meta = Core.ToMeta();
            if (!pagesOnly)
            {
                Core.CursorWritten(meta);
            }

            return meta;
        }

        /// <summary>What the grain's window fill does: load segments, and park the head when the full window has nothing ready.</summary>
        public void FillForDelivery(DateTimeOffset now, int wanted)
        {
            while (Core.ReadyInWindow < wanted)
            {
                if (Core.NextSegmentToLoad is { } id)
                {
                    Core.AddWindowSegment(id, StateOf(Stored[id]), now);
                }
                else if (!Core.TryParkHead(now))
                {
                    break;
                }
            }
        }

        /// <summary>What a new activation would build from the stored cursor (by default the current one), pages and segments.</summary>
        public void Reload(DateTimeOffset now, QueueMetaState? storedCursor = null, QueueCoreLimits? limits = null)
        {
            var meta = storedCursor ?? Core.ToMeta();
            var tail = Stored.Values.Where(s => s.Id >= meta.TailSegment).MaxBy(s => s.Id) ?? Core.Tail;
            _limits = limits ?? Limits;
            Core = new QueueCore(_limits, tail, meta);
            foreach (var (id, page) in Pages.Where(p => p.Key >= meta.InFlightPagesFrom).OrderBy(p => p.Key))
            {
                Core.RestorePage(id, page, "etag", now);
            }

            var mustReach = CursorCodec.HighestRecordedSeq(meta);
            while (Core.LoadedThrough < tail.Id && (Core.NextSegmentToLoad is not null || Core.NextSeqLoaded() <= mustReach))
            {
                Core.AddWindowSegment(Core.LoadedThrough + 1, StateOf(Stored[Core.LoadedThrough + 1]), now);
            }

            Core.EndRestore();
        }
    }

    private static string[] Ids(int from, int count) => Enumerable.Range(from, count).Select(i => $"m{i}").ToArray();

    [Fact]
    public void Append_FillsSegmentsUpToTheirCount_ThenStartsNewOnes()
    {
        var h = new Harness();
        Assert.Equal([1L, 2, 3, 4, 5, 6], h.Append(T0, Ids(1, 6)));
        Assert.Equal([0L, 1], h.Stored.Keys.Order());
        Assert.Equal(4, h.Stored[0].Messages.Count);
        Assert.Equal((1L, 5L), (h.Stored[0].FirstSeq, h.Stored[1].FirstSeq));
        Assert.Equal(7, h.Core.NextSeq);
    }

    [Fact]
    public void Append_ACommitMayStretchTheSegmentItWrites_ButNeverStartsOneInAFullSegment()
    {
        var h = new Harness(Limits with { SegmentStretch = 2 });
        h.Append(T0, Ids(1, 3));
        // Three stored, six more: the tail takes five (twice its count of four) in the same write, one goes on.
        var plan = h.Plan(Ids(4, 6).Select(id => new PendingMessage(OutgoingMessage.FromText(id, id), id, 600)).ToList(), T0);
        Assert.Equal([(0L, 8), (1L, 1)], plan.Segments.Select(s => (s.Id, s.Segment.Messages.Count)));
        foreach (var segment in plan.Segments)
        {
            h.Written(segment, "etag", T0);
        }

        // A later commit finds segment 1 below its count: it fills it to four, and stretches it no further than eight.
        h.Append(T0, Ids(10, 3));
        Assert.Equal((1L, 4), (h.Core.Tail.Id, h.Core.Tail.Messages.Count));
        var next = h.Plan([new PendingMessage(OutgoingMessage.FromText("m13", "m13"), "m13", 600)], T0);
        Assert.Equal(2, Assert.Single(next.Segments).Id); // full before the commit: a new segment

        // The byte limit stays hard.
        var bytes = new Harness(Limits with { SegmentStretch = 2, SegmentMaxBytes = 1500 });
        var big = bytes.Plan(Ids(1, 3).Select(id => new PendingMessage(OutgoingMessage.FromText(id, id), id, 600)).ToList(), T0);
        Assert.Equal([2, 1], big.Segments.Select(s => s.Segment.Messages.Count));
    }

    [Fact]
    public void Append_RewritesOnlyTheSmallLastChunk_ThenStartsANewChunkRecord()
    {
        var h = new Harness(Limits with { ChunkMaxMessages = 2 });
        var writes = new List<(long Segment, int Chunk, long FirstSeq, int Count, bool ByETag)>();
        for (var i = 1; i <= 6; i++)
        {
            var plan = h.Plan([new PendingMessage(OutgoingMessage.FromText($"m{i}", $"m{i}"), $"m{i}", 600)], T0);
            var segment = Assert.Single(plan.Segments);
            var chunk = segment.ChunkRecord();
            writes.Add((segment.Id, segment.Chunk, chunk.FirstSequence, chunk.Messages.Count, segment.ETag is not null));
            Assert.Equal(segment.Segment.Messages.Skip(segment.ChunkStart).Select(m => m.Seq), chunk.Messages.Select(m => m.Seq));
            h.Written(segment, $"etag-{i}", T0);
        }

        // Segments of 4 in chunks of 2: a chunk record is created (no ETag), rewritten once by its ETag, then left alone.
        Assert.Equal(
            [(0L, 0, 1L, 1, false), (0, 0, 1, 2, true), (0, 1, 3, 1, false), (0, 1, 3, 2, true), (1, 0, 5, 1, false), (1, 0, 5, 2, true)],
            writes);
        Assert.Equal([1L, 2, 3, 4], h.Core.PeekWindow(1, 10).Select(m => m.SequenceNumber).Take(4));

        // A batch larger than a chunk goes into one new chunk of the tail: one write, and the small chunk is not rewritten.
        var big = h.Plan(Ids(7, 2).Select(id => new PendingMessage(OutgoingMessage.FromText(id, id), id, 600)).ToList(), T0);
        var tail = Assert.Single(big.Segments);
        Assert.Equal((1L, 1, 2, 7L), (tail.Id, tail.Chunk, tail.ChunkStart, tail.ChunkRecord().FirstSequence));
        Assert.Null(tail.ETag);
        Assert.Equal(4, tail.Segment.Messages.Count); // the image still holds the whole segment
    }

    [Fact]
    public void LeaseOnAppend_TheFirstLeaseIsStoredWithTheMessage_AndSurvivesAReloadWithoutACursorWrite()
    {
        var h = new Harness();
        var cursorBefore = h.Core.ToMeta(); // the last cursor written: nothing delivered yet
        Assert.True(h.Core.CanLeaseOnAppend(T0));
        var (_, leases) = h.AppendLeasing(T0, 2, "a", "b", "c");
        Assert.Equal([(1L, 1), (2L, 1)], leases.Select(l => (l.Message.Seq, l.DeliveryCount)));
        Assert.Equal(T0.AddSeconds(30), leases[0].LockedUntil);
        Assert.Equal((2, 1), (h.Core.LockedCount, h.Core.ReadyInWindow));
        Assert.Equal(leases[1].Token, h.Stored[0].Messages[1].FirstLeaseToken);
        Assert.Null(h.Stored[0].Messages[2].FirstLeaseToken);

        // The silo dies before any cursor write: the leases come back from the segment alone, tokens and all.
        h.Reload(T0.AddSeconds(1), cursorBefore);
        Assert.Equal((2, 1), (h.Core.LockedCount, h.Core.ReadyInWindow));
        h.Core.Complete([leases[0].Token]);
        Assert.Equal(0, h.Core.ExpireLeases(T0.AddSeconds(29)));
        Assert.Equal(1, h.Core.ExpireLeases(T0.AddSeconds(31)));
        var next = h.Core.Lease(10, TimeSpan.FromSeconds(30), T0.AddSeconds(31));
        Assert.Equal([(2L, 2), (3L, 1)], next.Select(l => (l.Message.Seq, l.DeliveryCount))); // counted: the first push was a delivery
    }

    [Fact]
    public void LeaseOnAppend_TheCursorRecordLeavesUnchangedFirstLeasesToTheSegment_AndRecordsThemOnceTheyChange()
    {
        var h = new Harness();
        var (_, leases) = h.AppendLeasing(T0, 3, "a", "b", "c");
        Assert.Empty(h.Core.ToMeta().Deliveries); // the segment holds all three leases

        h.Core.Renew(leases[1].Token, TimeSpan.FromSeconds(60), T0.AddSeconds(5));
        Assert.Equal([2L], h.Core.ToMeta().Deliveries.Select(d => d.Seq)); // renewed: the cursor must say so

        h.Reload(T0.AddSeconds(40)); // from that cursor: 1 and 3 expired (their stored leases), 2 renewed until 65 s
        Assert.Equal((1, 2), (h.Core.LockedCount, h.Core.ReadyInWindow));
        h.Core.Complete([leases[1].Token]);
        Assert.Equal([(1L, 2), (3L, 2)], h.Core.Lease(10, TimeSpan.FromSeconds(30), T0.AddSeconds(40)).Select(l => (l.Message.Seq, l.DeliveryCount)));
    }

    [Fact]
    public void LeaseOnAppend_NeverWhileTheTailIsOutsideTheWindow()
    {
        // A full one-segment window: segment 0 leased out, segment 1 (the tail) holds ready messages not yet loaded.
        var h = new Harness(Limits with { ActiveSegments = 1 });
        h.Append(T0, Ids(1, 6));
        var leased = h.Core.Lease(10, TimeSpan.FromSeconds(30), T0);
        Assert.Equal(4, leased.Count);
        Assert.Equal(0, h.Core.ReadyInWindow);
        Assert.False(h.Core.CanLeaseOnAppend(T0)); // 5 and 6 wait outside the window: a new message must not pass them

        // The head moves on: the tail is next but still not loaded, and it holds older ready messages.
        h.Core.Complete(leased.Select(l => l.Token).ToList());
        Assert.False(h.Core.CanLeaseOnAppend(T0));
        var (_, leases) = h.AppendLeasing(T0, 10, "m7");
        Assert.Empty(leases);
        h.FillWindow(T0);
        Assert.Equal([5L, 6, 7], h.Core.Lease(10, TimeSpan.FromSeconds(30), T0).Select(l => l.Message.Seq));
    }

    [Fact]
    public void LeaseOnAppend_TheCursorRecordWinsOnceWritten()
    {
        var h = new Harness();
        var (_, leases) = h.AppendLeasing(T0, 2, "a", "b");
        h.Core.Complete([leases[0].Token]);
        h.Core.Abandon(leases[1].Token, T0.AddSeconds(1));
        h.Reload(T0.AddSeconds(2)); // the cursor now says: 1 completed, 2 ready again after one delivery
        Assert.Equal((0, 1), (h.Core.LockedCount, h.Core.ReadyInWindow));
        Assert.Equal([(2L, 2)], h.Core.Lease(10, TimeSpan.FromSeconds(30), T0.AddSeconds(2)).Select(l => (l.Message.Seq, l.DeliveryCount)));
    }

    [Fact]
    public void LeaseOnAppend_OnlyWhenNothingOlderIsReady_AndOnlyIntoTheWindow()
    {
        var h = new Harness(Limits with { ActiveSegments = 1 });
        h.Append(T0, "old");
        Assert.False(h.Core.CanLeaseOnAppend(T0)); // "old" goes first
        h.Core.Complete([h.Core.Lease(1, TimeSpan.FromSeconds(30), T0)[0].Token]);
        Assert.True(h.Core.CanLeaseOnAppend(T0));

        // Segment 0 has room for 3 more; segment 1 does not join a one-segment window, so its messages wait.
        var (sequences, leases) = h.AppendLeasing(T0, 10, Ids(1, 6));
        Assert.Equal([2L, 3, 4], leases.Select(l => l.Message.Seq));
        Assert.Equal(7, sequences[^1]);
        Assert.All(h.Stored[1].Messages, m => Assert.Null(m.FirstLeaseToken));
    }

    [Fact]
    public void Append_StartsANewSegment_WhenTheByteBudgetIsUsed()
    {
        var h = new Harness(Limits with { SegmentMaxMessages = 100, SegmentMaxBytes = 1500 });
        h.Append(T0, Ids(1, 5)); // 600 estimated bytes each: two fit in 1,500
        Assert.Equal([2, 2, 1], h.Stored.Values.OrderBy(s => s.Id).Select(s => s.Messages.Count));
    }

    [Fact]
    public void Append_DeduplicatesAgainstStoredIds_AndWithinOneCommit()
    {
        var h = new Harness();
        h.Append(T0, "a", "b");
        Assert.Equal([1L, 3, 3, 2], h.Append(T0, "a", "c", "c", "b"));
        Assert.Equal(4, h.Core.NextSeq);
        Assert.True(h.Core.TryGetDuplicate("c", out var c) && c == 3);
    }

    [Fact]
    public void DuplicateIds_AreForgotten_AfterTheWindow_OrBeyondTheCap()
    {
        var h = new Harness(Limits with { DedupMaxIds = 3 });
        h.Append(T0, "a", "b", "c", "d");
        Assert.False(h.Core.TryGetDuplicate("a", out _)); // the cap keeps the newest 3
        Assert.True(h.Core.TryGetDuplicate("b", out _));
        h.Core.TrimDedup(T0 + TimeSpan.FromMinutes(11));
        Assert.False(h.Core.TryGetDuplicate("d", out _));
        Assert.Equal([5L], h.Append(T0 + TimeSpan.FromMinutes(11), "d")); // sent again after its window: stored again
    }

    [Fact]
    public void Leases_FollowSequenceOrder_AndTheWindowBoundsHowManyAreOut()
    {
        var h = new Harness();
        h.Append(T0, Ids(1, 10));
        var leases = h.Core.Lease(100, TimeSpan.FromSeconds(30), T0);
        Assert.Equal(Enumerable.Range(1, 8).Select(i => (long)i), leases.Select(l => l.Message.Seq)); // 2 segments of 4
        Assert.All(leases, l => Assert.Equal(1, l.DeliveryCount));

        h.Core.Complete(leases.Take(4).Select(l => l.Token).ToList());
        Assert.Equal((1L, 5L), (h.Core.HeadSegment, h.Core.AckedBelow));
        h.FillWindow(T0);
        Assert.Equal([9L, 10], h.Core.Lease(100, TimeSpan.FromSeconds(30), T0).Select(l => l.Message.Seq));
    }

    [Theory]
    [InlineData(0L, 4)] // no more than ActiveSegments (2) segments of 2
    [InlineData(6L, 6)] // a third segment while the window holds less than 6 messages' bytes
    [InlineData(128L * 1024 * 1024, 20)] // all 10 segments: their messages are fewer than 2 full segments' 200
    public void SegmentsOfFewLargeMessages_JoinTheWindowBeyondActiveSegments_UpToItsBytes(long maxBytes, int leased)
    {
        // 600 estimated bytes a message, 1,500 a segment: two a segment, far below its count of 100.
        var limits = Limits with { SegmentMaxMessages = 100, SegmentMaxBytes = 1500 };
        var probe = new Harness(limits);
        probe.Append(T0, "m1");
        var messageBytes = SegmentSizing.EstimateBytes(probe.Stored[0].Messages[0]); // as the window counts it
        var h = new Harness(limits with { WindowMaxBytes = maxBytes == 6 ? 6 * messageBytes : maxBytes });
        h.Append(T0, Ids(1, 20));
        Assert.Equal(10, h.Stored.Count);

        h.FillForDelivery(T0, wanted: 100);
        Assert.Equal(leased, h.Core.Lease(100, TimeSpan.FromSeconds(30), T0).Count);
    }

    [Fact]
    public void Complete_IsAllOrNothing()
    {
        var h = new Harness();
        h.Append(T0, Ids(1, 3));
        var leases = h.Core.Lease(3, TimeSpan.FromSeconds(30), T0);
        var stale = Guid.NewGuid();
        var error = Assert.Throws<QueueException>(() => h.Core.Complete([leases[0].Token, stale]));
        Assert.Equal(QueueErrorCode.MessageLockLost, error.Code);
        Assert.Equal(3, h.Core.LockedCount);
        Assert.Equal(0, h.Core.TotalCompleted);
    }

    [Fact]
    public void ExpiredLeases_MakeMessagesReadyAgain_InSequenceOrder_AndRenewalPostponesExpiry()
    {
        var h = new Harness();
        h.Append(T0, Ids(1, 3));
        var leases = h.Core.Lease(3, TimeSpan.FromSeconds(10), T0);
        h.Core.Renew(leases[1].Token, TimeSpan.FromSeconds(30), T0 + TimeSpan.FromSeconds(5));
        Assert.Equal(T0 + TimeSpan.FromSeconds(10), h.Core.NextExpiry());

        Assert.Equal(2, h.Core.ExpireLeases(T0 + TimeSpan.FromSeconds(10)));
        Assert.Equal(T0 + TimeSpan.FromSeconds(35), h.Core.NextExpiry());
        var again = h.Core.Lease(10, TimeSpan.FromSeconds(10), T0 + TimeSpan.FromSeconds(11));
        Assert.Equal([1L, 3], again.Select(l => l.Message.Seq));
        Assert.Equal([2, 2], again.Select(l => l.DeliveryCount));
        Assert.Throws<QueueException>(() => h.Core.Complete([leases[0].Token]));
        h.Core.Complete([leases[1].Token]); // renewed: still valid
    }

    [Fact]
    public void TheCursorRecord_RestoresLeases_Completions_AndDeliveryCounts()
    {
        var h = new Harness();
        h.Append(T0, Ids(1, 8));
        var leases = h.Core.Lease(6, TimeSpan.FromMinutes(1), T0);
        h.Core.Complete([leases[1].Token, leases[4].Token]);
        h.Core.Abandon(leases[2].Token, T0);

        h.Reload(T0 + TimeSpan.FromSeconds(1));
        Assert.Equal(3, h.Core.LockedCount); // 1, 4 and 6
        Assert.Equal(6, h.Core.ActiveCount);
        h.Core.Complete([leases[0].Token, leases[3].Token, leases[5].Token]);
        var rest = h.Core.Lease(10, TimeSpan.FromMinutes(1), T0);
        Assert.Equal([3L, 7, 8], rest.Select(l => l.Message.Seq));
        Assert.Equal([2, 1, 1], rest.Select(l => l.DeliveryCount));
    }

    [Fact]
    public void Reload_AfterLeasesExpired_DeliversThemAgain()
    {
        var h = new Harness();
        h.Append(T0, Ids(1, 2));
        h.Core.Lease(2, TimeSpan.FromSeconds(5), T0);
        h.Reload(T0 + TimeSpan.FromSeconds(6));
        Assert.Equal(0, h.Core.LockedCount);
        Assert.Equal([2, 2], h.Core.Lease(2, TimeSpan.FromSeconds(5), T0).Select(l => l.DeliveryCount));
    }

    [Fact]
    public void CompletedSegments_AreDeletable_OnlyOnceOutOfTheDuplicateWindow()
    {
        var h = new Harness();
        h.Append(T0, Ids(1, 9));
        var leases = h.Core.Lease(8, TimeSpan.FromMinutes(1), T0);
        h.Core.Complete(leases.Select(l => l.Token).ToList());
        Assert.Equal(2, h.Core.HeadSegment);
        Assert.Empty(h.Core.DeletableSegments(T0 + TimeSpan.FromMinutes(11))); // the stored cursor still names segment 0 as head
        h.Core.CursorWritten(h.Core.ToMeta());
        Assert.Empty(h.Core.DeletableSegments(T0 + TimeSpan.FromMinutes(5)));
        Assert.Equal([0L, 1], h.Core.DeletableSegments(T0 + TimeSpan.FromMinutes(11)));
        h.Core.SegmentDeleted(0);
        Assert.Equal([1L], h.Core.DeletableSegments(T0 + TimeSpan.FromMinutes(11)));
        Assert.Throws<InvalidOperationException>(() => h.Core.SegmentDeleted(2));
    }

    [Fact]
    public void Purge_CompletesEverything_AndNewMessagesFollow()
    {
        var h = new Harness();
        h.Append(T0, Ids(1, 10));
        h.Core.Lease(3, TimeSpan.FromMinutes(1), T0);
        Assert.Equal(10, h.Core.Purge());
        Assert.Equal((0L, 0, 11L), (h.Core.ActiveCount, h.Core.LockedCount, h.Core.AckedBelow));
        h.Core.CursorWritten(h.Core.ToMeta());
        Assert.Equal([0L, 1], h.Core.DeletableSegments(T0 + TimeSpan.FromHours(1)));
        h.Append(T0, "after");
        Assert.Equal([11L], h.Core.Lease(5, TimeSpan.FromMinutes(1), T0).Select(l => l.Message.Seq));
        h.Reload(T0);
        Assert.Equal(1, h.Core.ActiveCount);
    }

    [Fact]
    public void TheCursorRecord_StaysBoundedByTheWindow_WhateverTheQueueLength()
    {
        var h = new Harness();
        for (var i = 0; i < 250; i++)
        {
            h.Append(T0, Ids(i * 4 + 1, 4));
        }

        var leases = h.Core.Lease(1000, TimeSpan.FromMinutes(1), T0);
        Assert.Equal(8, leases.Count);
        var meta = h.Core.ToMeta();
        Assert.Equal(8, meta.Deliveries.Count);
        Assert.Empty(meta.Completed);
        Assert.Equal(1000, h.Core.ActiveCount);
    }
}
