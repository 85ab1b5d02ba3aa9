using OrleansQueue.Appending;
using OrleansQueue.DeadLetters;
using OrleansQueue.Delivery;
using OrleansQueue.Queues;
using OrleansQueue.Storage;

namespace OrleansQueue.Tests.Unit;

/// <summary>
/// Held messages never block the others: the window parks a full head's in-flight messages in in-flight pages and
/// moves on; the pages survive a reload, and pages written without their cursor are ignored.
/// </summary>
public sealed partial class QueueCoreTests
{
    /// <summary>Receives one message at a time and completes it, as a receive loop does, until nothing comes.</summary>
    private static List<long> DrainOneByOne(Harness h, DateTimeOffset now)
    {
        var delivered = new List<long>();
        while (true)
        {
            h.FillForDelivery(now, 1);
            var leases = h.Core.Lease(1, TimeSpan.FromSeconds(30), now);
            if (leases.Count == 0)
            {
                return delivered;
            }

            delivered.Add(leases[0].Message.Seq);
            h.Core.Complete([leases[0].Token]);
        }
    }

    [Fact]
    public void Straggler_AHeldMessage_DoesNotStopTheOthers()
    {
        var h = new Harness();
        h.Append(T0, Ids(1, 40));
        h.FillForDelivery(T0, 1);
        var straggler = h.Core.Lease(1, TimeSpan.FromHours(1), T0).Single();
        Assert.Equal(1, straggler.Message.Seq);

        var delivered = DrainOneByOne(h, T0);

        Assert.Equal(Enumerable.Range(2, 39).Select(i => (long)i), delivered);
        Assert.Equal(1, h.Core.ParkedCount);
        var stats = h.Core.Stats(T0);
        Assert.Equal((0L, 1L, 1L), (stats.ReadyCount, stats.LockedCount, stats.ActiveCount));
        Assert.Equal(TimeSpan.Zero, stats.OldestMessageAge);

        // The parked message's page is written before the cursor; completing it empties and deletes the page.
        h.WriteCursor();
        Assert.Single(h.Pages);
        Assert.Single(h.Core.Complete([straggler.Token]));
        h.WriteCursor();
        Assert.Empty(h.Pages);
        Assert.Equal(0, h.Core.ActiveCount);
        Assert.Equal(h.Core.InFlightPagesTo, h.Core.InFlightPagesFrom);
    }

    [Theory]
    [InlineData(60, true)] // locked for an hour: held past an ordinary delivery, parked although others are ready
    [InlineData(0, false)] // an ordinary 30 s lock: the head stays until nothing else is ready
    public void Straggler_AFullWindowParksAHeldHead_EvenWhileOthersAreReady_ButNotAnOrdinaryDelivery(int lockMinutes, bool parked)
    {
        var h = new Harness(); // segments of 4 messages, 2 in the window
        h.Append(T0, Ids(1, 20));
        h.FillForDelivery(T0, 4);
        var lockDuration = lockMinutes > 0 ? TimeSpan.FromMinutes(lockMinutes) : TimeSpan.FromSeconds(30);
        Assert.Equal(4, h.Core.Lease(4, lockDuration, T0).Count); // the whole head segment

        h.FillForDelivery(T0, 8); // a consumer wants 8: the window holds the head and 4 ready
        Assert.Equal(parked ? (4, 8) : (0, 4), (h.Core.ParkedCount, h.Core.ReadyInWindow));
    }

    [Fact]
    public void Straggler_HeldHeads_AreParkedBeforeACursorWrite_SoTheCursorCarriesNoRecordOfThem()
    {
        var h = new Harness();
        h.Append(T0, Ids(1, 20));
        h.FillForDelivery(T0, 8);
        Assert.Equal(4, h.Core.Lease(4, TimeSpan.FromMinutes(10), T0).Count); // the head segment, held by a long lock
        var ordinary = h.Core.Lease(4, TimeSpan.FromSeconds(30), T0);
        Assert.Equal(4, ordinary.Count); // the next segment, an ordinary delivery

        Assert.Equal(1, h.Core.ParkHeldHeads(T0));
        Assert.Equal(4, h.Core.ParkedCount);
        Assert.Equal([5L, 6L, 7L, 8L], h.Core.ToMeta().Deliveries.Select(d => d.Seq).Order());
        Assert.Equal(0, h.Core.ParkHeldHeads(T0)); // an ordinary delivery stays in the window

        // Delivered longer than an ack deadline ago (a slow handler whose lock is renewed): held too.
        var later = T0 + h.Core.LockDuration + TimeSpan.FromSeconds(1);
        foreach (var lease in ordinary)
        {
            h.Core.Renew(lease.Token, TimeSpan.FromSeconds(30), later);
        }

        Assert.Equal(1, h.Core.ParkHeldHeads(later));
        Assert.Equal(8, h.Core.ParkedCount);
        Assert.Empty(h.Core.ToMeta().Deliveries);
    }

    [Fact]
    public void Straggler_ParkedLock_SurvivesAReload_AndAnExpiredOneIsDeliveredFirst()
    {
        var h = new Harness();
        h.Append(T0, Ids(1, 40));
        h.FillForDelivery(T0, 2);
        var held = h.Core.Lease(2, TimeSpan.FromMinutes(10), T0);
        Assert.Equal(38, DrainOneByOne(h, T0).Count);
        h.WriteCursor();

        h.Reload(T0.AddMinutes(1));
        Assert.Equal(2, h.Core.ParkedCount);
        Assert.Equal(2, h.Core.LockedCount);
        Assert.Equal(2, h.Core.ActiveCount);
        Assert.True(h.Core.IsLeased(held[0].Token));
        var until = h.Core.Renew(held[0].Token, TimeSpan.FromMinutes(30), T0.AddMinutes(1));
        Assert.Equal(T0.AddMinutes(31), until);
        h.Core.Complete([held[0].Token]);
        h.WriteCursor();

        // The other lock runs out: the message is ready again, ahead of anything newer.
        h.Append(T0.AddMinutes(11), "late");
        Assert.Equal(1, h.Core.ExpireLeases(T0.AddMinutes(11)));
        h.FillForDelivery(T0.AddMinutes(11), 1);
        var again = h.Core.Lease(1, TimeSpan.FromSeconds(30), T0.AddMinutes(11)).Single();
        Assert.Equal((2L, 2), (again.Message.Seq, again.DeliveryCount));
        h.WriteCursor();
        h.Reload(T0.AddMinutes(11));
        Assert.True(h.Core.IsLeased(again.Token));
        Assert.Equal([2L, 41], h.Core.PeekWindow(0, 10).Select(m => m.SequenceNumber));
    }

    [Fact]
    public void Straggler_PagesWrittenWithoutTheirCursor_AreIgnoredAndRemoved()
    {
        var h = new Harness();
        h.Append(T0, Ids(1, 40));
        h.FillForDelivery(T0, 1);
        var straggler = h.Core.Lease(1, TimeSpan.FromHours(1), T0).Single();
        var before = h.WriteCursor();
        DrainOneByOne(h, T0);
        h.WriteCursor(pagesOnly: true); // the page is stored, the cursor write never happens

        h.Reload(T0, before);
        Assert.Equal(0, h.Core.ParkedCount);
        Assert.Equal(40, h.Core.ActiveCount); // the completions were never stored: delivered again, the straggler still locked
        Assert.Equal(1, h.Core.LockedCount);
        Assert.True(h.Core.IsLeased(straggler.Token));
        var cleanup = h.Core.DirtyPages();
        Assert.Null(Assert.Single(cleanup).State);

        Assert.Equal(39, DrainOneByOne(h, T0).Count);
        Assert.Equal(1, h.Core.ParkedCount);
        h.WriteCursor();
        h.Reload(T0);
        Assert.Equal((1, 1L), (h.Core.ParkedCount, h.Core.ActiveCount));
    }

    [Fact]
    public void InFlightLimit_StopsDelivery_UntilSomethingSettles()
    {
        var h = new Harness(Limits with { MaxInFlight = 3 });
        h.Append(T0, Ids(1, 8));
        h.FillForDelivery(T0, 8);
        var leases = h.Core.Lease(5, TimeSpan.FromSeconds(30), T0);
        Assert.Equal(3, leases.Count);
        Assert.Empty(h.Core.Lease(5, TimeSpan.FromSeconds(30), T0));
        var stats = h.Core.Stats(T0);
        Assert.True(stats.InFlightLimitReached);
        Assert.Equal((5L, 3L), (stats.ReadyCount, stats.LockedCount));

        // A failed delivery waiting out its redelivery delay is in flight too, and not ready.
        h.Core.Settings = new QueueSettingsState { RedeliveryMode = RedeliveryMode.Fixed, RedeliveryDelay = TimeSpan.FromMinutes(1), RedeliveryJitter = 0 };
        h.Core.Abandon(leases[0].Token, T0);
        stats = h.Core.Stats(T0);
        Assert.Equal((5L, 2L, 1L, true), (stats.ReadyCount, stats.LockedCount, stats.DelayedCount, stats.InFlightLimitReached));
        Assert.Equal(8, stats.ActiveCount);

        h.Core.Complete([leases[1].Token]);
        Assert.Equal(4, Assert.Single(h.Core.Lease(5, TimeSpan.FromSeconds(30), T0)).Message.Seq);
        Assert.Equal(0, h.Plan([new PendingMessage(OutgoingMessage.FromText("x", "x"), "x", 600)], T0, 5).LeasedOnAppend);
    }

    [Fact]
    public void Straggler_ManyScattered_AllDeliveredOnce_PagesBounded()
    {
        var h = new Harness();
        h.Append(T0, Ids(1, 400));
        var held = new List<Lease>();
        var delivered = new HashSet<long>();
        while (true)
        {
            h.FillForDelivery(T0, 1);
            var lease = h.Core.Lease(1, TimeSpan.FromSeconds(30), T0).SingleOrDefault();
            if (lease.Token == Guid.Empty)
            {
                break;
            }

            Assert.True(delivered.Add(lease.Message.Seq));
            if (lease.Message.Seq % 10 == 3)
            {
                held.Add(lease); // every tenth message is held
            }
            else
            {
                h.Core.Complete([lease.Token]);
            }

            if (delivered.Count % 50 == 0)
            {
                h.WriteCursor();
            }
        }

        Assert.Equal(400, delivered.Count);
        h.WriteCursor();
        Assert.InRange(h.Core.ParkedCount, 35, 40);
        Assert.All(h.Pages.Values, p => Assert.InRange(p.Entries.Count, 1, Limits.SegmentMaxMessages));
        h.Reload(T0);
        Assert.Equal(40, h.Core.ActiveCount);
        h.Core.Complete([.. held.Select(l => l.Token)]);
        h.WriteCursor();
        Assert.Empty(h.Pages);
        Assert.Equal(0, h.Core.ActiveCount);
    }
}

/// <summary>The cursor record stays within its budget whatever the consumers do.</summary>
public sealed partial class QueueCoreTests
{
    [Fact]
    public void CursorBudget_FailedDeliveriesWithLongErrors_ParkWindowHeads_AndTheCursorStaysUnderBudget()
    {
        var limits = Limits with { SegmentMaxMessages = 8, ActiveSegments = 4, CursorBudgetBytes = 8 * 1024 };
        var h = new Harness(limits);
        h.Append(T0, Ids(1, 40));
        var error = new string('x', 10_000);
        var type = new string('T', 10_000);
        for (var round = 0; round < 3; round++)
        {
            h.FillForDelivery(T0, 32);
            foreach (var lease in h.Core.Lease(32, TimeSpan.FromSeconds(30), T0))
            {
                h.Core.Abandon(lease.Token, T0, type, error);
            }

            h.Core.ParkWhileCursorOverBudget();
            Assert.InRange(h.Core.EstimateCursorBytes(withHistories: false), 0, limits.CursorBudgetBytes);
            h.WriteCursor();
        }

        Assert.True(h.Core.ParkedCount > 0);
        Assert.Equal(40, h.Core.ActiveCount);
        h.Reload(T0, limits: limits);
        Assert.Equal(40, h.Core.ActiveCount);
        var all = new List<Lease>();
        while (true)
        {
            h.FillForDelivery(T0, 10);
            var got = h.Core.Lease(10, TimeSpan.FromSeconds(30), T0);
            if (got.Count == 0)
            {
                break;
            }

            all.AddRange(got);
        }

        Assert.Equal(Enumerable.Range(1, 40).Select(i => (long)i), all.Select(l => l.Message.Seq).Order());
        Assert.Equal(32, all.Count(l => l.DeliveryCount == 4)); // three failed deliveries and this one
        Assert.Equal(8, all.Count(l => l.DeliveryCount == 1));
    }

    [Fact]
    public void DeadLetterDescriptions_AndErrorStrings_AreCut_SoNoInputGrowsTheCursor()
    {
        var h = new Harness();
        h.Append(T0, Ids(1, 2));
        h.FillForDelivery(T0, 2);
        var leases = h.Core.Lease(2, TimeSpan.FromSeconds(30), T0);
        var move = h.Core.DeadLetter(leases[0].Token, DeadLetterReason.RejectedByConsumer, new string('d', 100_000), T0,
            new string('t', 100_000), new string('m', 100_000));
        Assert.Equal(PendingMoves.MaxDescriptionLength, move!.Description!.Length);
        var entry = h.Core.ToDeadLetterEntry(move, "q");
        Assert.Equal((DeliveryEntry.MaxErrorLength, DeliveryEntry.MaxErrorLength), (entry.LastExceptionType!.Length, entry.LastExceptionMessage!.Length));
        Assert.InRange(h.Core.EstimateCursorBytes(withHistories: true), 0, 4 * 1024);
    }
}

/// <summary>A dead-letter storm never grows the cursor: moves beyond the pending-move maximum wait their turn.</summary>
public sealed partial class QueueCoreTests
{
    [Fact]
    public void DeadLetterStorm_PendingMovesStayBounded_TheRestWaitTheirTurn_AndAllEndDeadLettered()
    {
        const int Messages = 1500;
        var limits = Limits with { SegmentMaxMessages = 100, ActiveSegments = 16, DefaultMaxDeliveryCount = 1 };
        var h = new Harness(limits);
        h.Append(T0, Ids(1, Messages));
        var now = T0;
        h.FillForDelivery(now, Messages);
        foreach (var lease in h.Core.Lease(Messages, TimeSpan.FromSeconds(30), now))
        {
            h.Core.Abandon(lease.Token, now, "Boom", "failed"); // over the maximum of one delivery: dead-letter
        }

        var moved = new HashSet<long>();
        Assert.True(h.Core.DeferredMoveCount > 0, "some wait their turn");
        for (var round = 0; round < 20 && moved.Count < Messages; round++)
        {
            Assert.InRange(h.Core.PendingMoves.Count, 0, PendingMoves.MaxCount);
            Assert.InRange(h.Core.PendingMoves.Sum(m => PendingMoves.EstimateBytes(m.Description)), 0, PendingMoves.MaxBytes);
            Assert.InRange(h.Core.EstimateCursorBytes(withHistories: true), 0, limits.CursorBudgetBytes);
            foreach (var move in h.Core.PendingMoves.ToList())
            {
                Assert.Equal(DeadLetterReason.MaxDeliveriesExceeded, move.Reason);
                Assert.True(moved.Add(move.Seq));
                h.Core.CompleteMove(move.Seq); // the dead-letter grain stored it
            }

            h.WriteCursor();
            if (round == 1)
            {
                h.Reload(now, limits: limits); // deferred moves are not stored: read back, they start again when due
            }

            now += PendingMoves.Deferral;
            h.Core.ReleaseDelayed(now);
        }

        Assert.Equal(Messages, moved.Count);
        Assert.Equal(0, h.Core.ActiveCount);
        Assert.Equal(Messages, h.Core.TotalDeadLettered);
    }

    [Fact]
    public void DeferredDeadLetters_KeepTheirReasonAcrossAReload_AndWaitingDoesNotGrowTheirQueue()
    {
        var limits = Limits with { SegmentMaxMessages = 100, ActiveSegments = 8 };
        var h = new Harness(limits);
        h.Append(T0, Ids(1, 300));
        var now = T0;
        h.FillForDelivery(now, 300);
        var description = new string('x', PendingMoves.MaxDescriptionLength); // the longest: pending moves fill their bytes first
        foreach (var lease in h.Core.Lease(300, TimeSpan.FromSeconds(30), now))
        {
            h.Core.DeadLetter(lease.Token, DeadLetterReason.RejectedByConsumer, description, now); // the consumer's own call
        }

        var fit = (int)(PendingMoves.MaxBytes / PendingMoves.EstimateBytes(description));
        Assert.Equal(fit, h.Core.PendingMoves.Count);
        var deferred = 300 - fit;
        Assert.Equal(deferred, h.Core.DeferredMoveCount);
        for (var second = 0; second < 30; second++)
        {
            // The dead-letter grain is unreachable for half a minute: the deferred ones wait, each in one place.
            now += PendingMoves.Deferral;
            h.Core.ReleaseDelayed(now);
            Assert.Equal(deferred, h.Core.DeferredMoveCount);
        }

        h.WriteCursor();
        h.Reload(now, limits: limits);
        Assert.Equal(deferred, h.Core.DeferredMoveCount);
        var moved = new List<MoveRecord>();
        while (h.Core.PendingMoves.Count > 0)
        {
            foreach (var move in h.Core.PendingMoves.ToList())
            {
                moved.Add(move);
                h.Core.CompleteMove(move.Seq); // room frees up: the deferred ones take it at once
            }
        }

        Assert.Equal(300, moved.Select(m => m.Seq).Distinct().Count());
        Assert.All(moved, m => Assert.Equal((DeadLetterReason.RejectedByConsumer, description), (m.Reason, m.Description)));
        Assert.Equal(0, h.Core.ActiveCount);
    }
}
