using OrleansQueue.Appending;
using OrleansQueue.DeadLetters;
using OrleansQueue.Delivery;
using OrleansQueue.Retention;
using OrleansQueue.Storage;
using MessageSegment = OrleansQueue.Storage.SegmentImage<OrleansQueue.Storage.SegmentState, OrleansQueue.Storage.StoredMessage>;

namespace OrleansQueue.Queues;

/// <summary>
/// The in-memory state of one queue, as the grain sees it: a facade over its rooms. The durable tail and the delivery
/// window with its locks and stragglers (<see cref="DeliveryWindow"/>), the duplicate-detection index
/// (<see cref="DuplicateIndex"/>), append planning (<see cref="AppendPlanner"/>), the moves to the dead-letter grain
/// (<see cref="PendingMoves"/>), the segments retained for duplicate detection (<see cref="SegmentRetention"/>), the
/// settings (<see cref="DeliverySettings"/>) and the cursor record they are stored in (<see cref="CursorCodec"/>).
/// It does no I/O: the grain reads and writes storage and tells this class what became durable. Every collection
/// behind it is bounded by the options.
/// </summary>
internal sealed class QueueCore
{
    private readonly QueueCoreLimits _limits;
    private readonly DeliverySettings _settings;
    private readonly DuplicateIndex _duplicates;
    private readonly SegmentRetention _retention;
    private readonly PendingMoves _moves;
    private readonly DeliveryWindow _window;

    public QueueCore(QueueCoreLimits limits, SegmentSnapshot tail, QueueMetaState meta)
    {
        _limits = limits;
        _settings = new DeliverySettings(meta.Settings ?? new QueueSettingsState(), limits.DefaultLockDuration, limits.DefaultMaxDeliveryCount, limits.DedupWindow, limits.MaxQueueLength);
        _duplicates = new DuplicateIndex(_settings.DuplicateDetectionWindow, limits.DedupMaxIds);
        _retention = new SegmentRetention(meta.RetainedFrom, meta.HeadSegment, _settings.DuplicateDetectionWindow, limits.DedupMaxIds);
        _moves = new PendingMoves(meta.PendingMoves);
        _window = new DeliveryWindow(limits, _settings, _retention, _moves, tail, meta);
        Subscriptions = meta.Subscriptions;
        Listing = meta.Listing;
    }

    /// <summary>The newest segment, as durably stored.</summary>
    public SegmentSnapshot Tail => _window.Tail;

    public long HeadSegment => _window.HeadSegment;

    /// <summary>The head as the last durably written cursor record has it; segments below it may be deleted.</summary>
    public long DurableHeadSegment => _retention.DurableHeadSegment;

    public long RetainedFrom => _retention.RetainedFrom;

    public long AckedBelow => _window.AckedBelow;

    /// <summary>The first in-flight page not deleted; see <see cref="QueueMetaState.InFlightPagesFrom"/>.</summary>
    public long InFlightPagesFrom => _window.Parked.From;

    /// <summary>The id the next new in-flight page gets.</summary>
    public long InFlightPagesTo => _window.Parked.To;

    /// <summary>Messages in flight that the window moved past (parked in in-flight pages).</summary>
    public int ParkedCount => _window.Parked.Count;

    /// <summary>Messages in flight: locked, waiting out a redelivery delay, or on their way to the dead-letter grain.</summary>
    public int InFlightCount => _window.InFlightCount;

    /// <summary>Whether the queue holds its in-flight limit: receives and pushes get nothing until some settle.</summary>
    public bool InFlightLimitReached => InFlightCount >= _limits.MaxInFlight;

    /// <summary>Messages waiting out a redelivery delay.</summary>
    public int DelayedCount => _window.DelayedCount;

    public long TotalCompleted => _window.TotalCompleted;

    public long TotalPurged => _window.TotalPurged;

    public long TotalDropped => _window.TotalDropped;

    public long TotalExpired => _window.TotalExpired;

    /// <summary>Whether a message of the window, or a parked one, has a time-to-live.</summary>
    public bool AnyExpiring() => _window.AnyExpiring();

    /// <summary>Expires the window's ready messages whose time-to-live ran out (see <see cref="DeliveryWindow.ExpireReady"/>).</summary>
    public (int Dropped, int DeadLettered) ExpireReady(DateTimeOffset now) => _window.ExpireReady(now);

    /// <summary>Body bytes of the messages counted in <see cref="Length"/>.</summary>
    public long LengthBytes => _window.LengthBytes;

    /// <summary>Counts the bodies of messages stored after the cursor was written (found by loading) in <see cref="LengthBytes"/>.</summary>
    public void CountStoredAfterCursor(IEnumerable<StoredMessage> messages, long fromSeq)
    {
        foreach (var message in messages)
        {
            if (message.Seq >= fromSeq)
            {
                _window.AddLengthBytes(message.Body.Length);
            }
        }
    }

    /// <summary>After the in-flight pages are restored (see <see cref="QueueMetaState.ParkedLengthBytes"/>).</summary>
    public void RecountParked(long cursorParkedBytes) => _window.RecountParked(cursorParkedBytes);

    /// <summary>Whether the oldest ready messages in the window can make room for <paramref name="count"/> messages and <paramref name="bytes"/> body bytes.</summary>
    public bool ReadyCovers(long count, long bytes) => _window.ReadyCovers(count, bytes);

    public long TotalDeadLettered => _window.TotalDeadLettered;

    /// <summary>Per-queue settings, stored in the cursor record.</summary>
    public QueueSettingsState Settings
    {
        get => _settings.State;
        set
        {
            _settings.State = value;
            _duplicates.Window = _retention.DedupWindow = _settings.DuplicateDetectionWindow;
        }
    }

    /// <summary>The queue's duplicate-detection window (zero: off).</summary>
    public TimeSpan DuplicateDetectionWindow => _settings.DuplicateDetectionWindow;

    /// <summary>The settings with the silo's defaults filled in.</summary>
    public DeliverySettings DeliverySettings => _settings;

    /// <summary>The subscribed consumers, stored in the cursor record (the grain manages them).</summary>
    public List<SubscriptionRecord> Subscriptions { get; }

    /// <summary>What the queue registry was last told about this queue; see <see cref="QueueMetaState.Listing"/>.</summary>
    public RegistryListing Listing { get; set; }

    public TimeSpan LockDuration => _settings.LockDuration;

    public int MaxDeliveryCount => _settings.MaxDeliveryCount;

    public RedeliveryPolicy Redelivery => _settings.Redelivery;

    /// <summary>Moves to the dead-letter grain that are stored but not finished, oldest first.</summary>
    public IReadOnlyCollection<MoveRecord> PendingMoves => _moves.All;

    /// <summary>Messages whose move waits for room among the pending moves (each counted once).</summary>
    internal int DeferredMoveCount => _moves.DeferredCount;

    public long NextSeq => Tail.NextSeq;

    public int ReadyInWindow => _window.ReadyCount;

    public int LockedCount => _window.LockedCount;

    /// <summary>Id of the last segment in the active window (head - 1 when the window is empty).</summary>
    public long LoadedThrough => _window.LoadedThrough;

    /// <summary>The sequence number after the last message in the window.</summary>
    public long NextSeqLoaded() => _window.NextSeqLoaded;

    /// <summary>The next segment to load into the window for delivery, or null when the window is full or has everything.</summary>
    public long? NextSegmentToLoad => _window.NextSegmentToLoad;

    public IReadOnlyList<RetainedSegment> Retained => _retention.Segments;

    /// <summary>Messages neither completed nor purged.</summary>
    public long ActiveCount => NextSeq - AckedBelow - _window.CompletedAboveAckedCount() + ParkedCount;

    /// <summary>The queue's length for its <c>MaxLength</c>: the active messages but those on their way to the dead-letter grain.</summary>
    public long Length => ActiveCount - _moves.Count;

    /// <summary>
    /// Removes the oldest ready messages in the window, at least <paramref name="count"/> and <paramref name="bytes"/>
    /// of bodies, to make room (<see cref="QueueOverflow"/>): dropped, or moved to the dead-letter grain. Returns how many it took.
    /// </summary>
    public int DropOldest(long count, long bytes, bool deadLetter, DateTimeOffset now) => _window.DropOldest(count, bytes, deadLetter, now);

    /// <summary>At least <see cref="ActiveCount"/>, in constant time.</summary>
    public long ActiveUpperBound => NextSeq - AckedBelow + ParkedCount;

    /// <summary>Active messages a receive can get now: not locked, not waiting out a redelivery delay, not being moved to the dead-letter grain.</summary>
    public long ReadyCount => ActiveCount - InFlightCount;

    // ---------------------------------------------------------------- loading (QueueLoader)

    public void AddWindowSegment(long id, SegmentState segment, DateTimeOffset now) => _window.AddSegment(id, segment, now);

    public void RestorePage(long id, InFlightPageState? state, string? etag, DateTimeOffset now) => _window.RestorePage(id, state, etag, now);

    public void EndRestore() => _window.EndRestore();

    /// <summary>Adds an id found in a stored segment while rebuilding the index after activation (oldest first).</summary>
    public void RememberId(string messageId, long seq, DateTimeOffset enqueuedAt) => _duplicates.Remember(DuplicateIndex.Hash(messageId), seq, enqueuedAt);

    // ---------------------------------------------------------------- enqueue

    public bool TryGetDuplicate(string messageId, out long seq) => _duplicates.TryGet(messageId, out seq);

    public bool TryGetDuplicate(UInt128 key, out long seq) => _duplicates.TryGet(key, out seq);

    /// <summary>Forgets ids older than the duplicate-detection window.</summary>
    public void TrimDedup(DateTimeOffset now) => _duplicates.Trim(now);

    /// <summary>
    /// Whether messages appended now would be the next to deliver: nothing is ready in the window (delayed messages
    /// whose time has come count as ready). Only then may an append lock its messages in the write that stores them.
    /// </summary>
    public bool CanLeaseOnAppend(DateTimeOffset now)
    {
        if (!_window.HoldsWholeQueue)
        {
            return false;
        }

        _window.ReleaseDelayed(now);
        return _window.ReadyCount == 0;
    }

    /// <summary>
    /// Plans the segment writes for the pending messages (<see cref="AppendPlanner"/>) without changing the core; with
    /// <paramref name="leaseOnAppend"/> above zero, that many new messages (within the in-flight limit) are stored
    /// already locked, and <see cref="SegmentWritten"/> returns their locks. Call it only when
    /// <see cref="CanLeaseOnAppend"/> said so.
    /// </summary>
    public AppendPlan PlanAppend(SegmentAppend<SegmentState, StoredMessage> append, IReadOnlyList<PendingMessage> pending, DateTimeOffset now,
        int leaseOnAppend = 0, TimeSpan lockDuration = default)
    {
        if (append.SegmentId != Tail.Id)
        {
            throw new InvalidOperationException($"The append starts at segment {append.SegmentId}, not at the tail, segment {Tail.Id}.");
        }

        var window = new AppendPlanner.WindowView(_window.LoadedThrough, _window.Segments.Count, _window.WindowMessages, _window.WindowBytes,
            _limits.WindowTakesMore, _window.HoldsWholeQueue);
        leaseOnAppend = Math.Min(leaseOnAppend, Math.Max(0, _limits.MaxInFlight - InFlightCount));
        return AppendPlanner.Plan(append, pending, now, NextSeq, _duplicates, window, leaseOnAppend, lockDuration);
    }

    /// <summary>
    /// Records that a planned segment was durably written; returns the locks of the messages it stored already
    /// locked, in sequence order.
    /// </summary>
    public List<Lease> SegmentWritten(MessageSegment segment, DateTimeOffset now)
    {
        var written = SegmentSnapshot.Of(segment);
        if (written.Id != Tail.Id && written.Id != Tail.Id + 1)
        {
            throw new InvalidOperationException($"Segment {written.Id} does not follow tail {Tail.Id}.");
        }

        var previousNext = written.Id == Tail.Id ? Tail.NextSeq : written.FirstSeq;
        _window.Tail = written;

        var added = written.Messages.Skip((int)(previousNext - written.FirstSeq)).ToList();
        foreach (var message in added)
        {
            _duplicates.Remember(message.Key ?? DuplicateIndex.Hash(message.DedupKey ?? message.Id), message.Seq, message.EnqueuedAt);
            _window.AddLengthBytes(message.Body.Length);
        }

        _duplicates.Trim(now);
        return _window.Append(written, added);
    }

    // ---------------------------------------------------------------- locks (DeliveryWindow)

    /// <summary>Locks up to <paramref name="max"/> ready messages in sequence order.</summary>
    public List<Lease> Lease(int max, TimeSpan duration, DateTimeOffset now) => _window.Lock(max, duration, now);

    public List<(StoredMessage Message, int DeliveryCount)> Complete(IReadOnlyList<Guid> tokens) => _window.Complete(tokens);

    public void Abandon(Guid token, DateTimeOffset now, string? errorType = null, string? errorMessage = null, bool immediate = false) =>
        _window.Abandon(token, now, errorType, errorMessage, immediate);

    public MoveRecord? DeadLetter(Guid token, DeadLetterReason reason, string? description, DateTimeOffset now, string? errorType = null, string? errorMessage = null) =>
        _window.DeadLetter(token, reason, description, now, errorType, errorMessage);

    public bool IsFailFast(string? exceptionType) => _settings.IsFailFast(exceptionType);

    public void ReleaseDelayed(DateTimeOffset now) => _window.ReleaseDelayed(now);

    public DateTimeOffset Renew(Guid token, TimeSpan duration, DateTimeOffset now) => _window.Renew(token, duration, now);

    public bool IsLeased(Guid token) => _window.IsLocked(token);

    public bool Unlock(Guid token, DateTimeOffset now) => _window.Unlock(token, now);

    public DateTimeOffset? LockedUntil(Guid token) => _window.LockedUntil(token);

    public int ExpireLeases(DateTimeOffset now) => _window.ExpireLocks(now);

    public DateTimeOffset? NextWakeUp() => _window.NextWakeUp();

    public DateTimeOffset? NextExpiry() => _window.NextExpiry();

    // ---------------------------------------------------------------- dead-letter moves

    public StoredMessage MessageOf(MoveRecord move) => _window.MessageOf(move);

    public DeadLetterEntry ToDeadLetterEntry(MoveRecord move, string queueName) => _window.ToDeadLetterEntry(move, queueName);

    public void CompleteMove(long seq) => _window.CompleteMove(seq);

    /// <summary>The oldest pending moves, as many as one enqueue takes.</summary>
    public List<MoveRecord> TakeMoveBatch(int maxCount, long maxBodyBytes) =>
        _moves.TakeBatch(move => _window.MessageOf(move).Body.Length, maxCount, maxBodyBytes);

    // ---------------------------------------------------------------- purge, stats, browse

    /// <summary>Marks every message completed-by-purge; returns how many were removed.</summary>
    public long Purge() => _window.Purge(ActiveCount);

    public QueueStats Stats(DateTimeOffset now)
    {
        var oldest = _window.OldestActiveMessage();
        return new QueueStats
        {
            LockedCount = LockedCount,
            ReadyCount = ReadyCount,
            DelayedCount = DelayedCount,
            InFlightLimitReached = InFlightLimitReached,
            DeadLetteringCount = _moves.Count,
            TotalDeadLettered = TotalDeadLettered,
            TotalEnqueued = NextSeq - 1,
            TotalCompleted = TotalCompleted,
            TotalPurged = TotalPurged,
            TotalDropped = TotalDropped,
            TotalExpired = TotalExpired,
            LengthBytes = LengthBytes,
            OldestMessageAge = oldest is null ? null : now - oldest.EnqueuedAt,
        };
    }

    /// <summary>Active messages of the window from <paramref name="fromSeq"/> on.</summary>
    public List<QueueMessage> PeekWindow(long fromSeq, int max) => _window.Peek(fromSeq, max);

    // ---------------------------------------------------------------- retention (SegmentCleaner)

    /// <summary>The retained segments that may be deleted now, oldest first (see <see cref="SegmentRetention.Deletable"/>).</summary>
    public IEnumerable<long> DeletableSegments(DateTimeOffset now) => _retention.Deletable(now, HeadSegment, NextSeq);

    public RetainedSegment? GetRetained(long id) => _retention.Get(id);

    /// <summary>Records a segment read from storage below the head (its ETag is needed to delete it).</summary>
    public void AddRetained(RetainedSegment segment) => _retention.AddRead(segment, HeadSegment);

    /// <summary>Records that segment <paramref name="id"/>, the oldest retained, is deleted.</summary>
    public void SegmentDeleted(long id) => _retention.Deleted(id);

    // ---------------------------------------------------------------- the cursor record

    /// <summary>Records that <paramref name="written"/> (made by <see cref="ToMeta"/>) is durably stored.</summary>
    public void CursorWritten(QueueMetaState written) => _retention.CursorWritten(written.HeadSegment);

    public QueueMetaState ToMeta()
    {
        var meta = new QueueMetaState
        {
            HeadSegment = HeadSegment,
            TailSegment = Tail.Id,
            RetainedFrom = RetainedFrom,
            AckedBelow = AckedBelow,
            TotalCompleted = TotalCompleted,
            TotalPurged = TotalPurged,
            TotalDropped = TotalDropped,
            TotalExpired = TotalExpired,
            LengthBytes = LengthBytes,
            LengthBytesBelowSeq = NextSeq,
            LengthBytesFromSeq = _window.LengthBytesFromSeq,
            ParkedLengthBytes = _window.ParkedLengthBytes(),
            TotalDeadLettered = TotalDeadLettered,
            PendingMoves = [.. _moves.All],
            Subscriptions = [.. Subscriptions],
            Settings = Settings,
            InFlightPagesFrom = InFlightPagesFrom,
            InFlightPagesTo = InFlightPagesTo,
            Listing = Listing,
        };
        CursorCodec.WriteDeliveryState(meta, _window.Segments, AckedBelow, _limits.CursorBudgetBytes);
        return meta;
    }

    /// <summary>
    /// The cursor record's estimated size: its fixed fields, subscriptions, pending moves, the completed sequence
    /// numbers and the delivery records of the window (with or without attempt histories and error messages).
    /// </summary>
    public long EstimateCursorBytes(bool withHistories) =>
        1024 + 300L * Subscriptions.Count + _moves.Bytes + CursorCodec.EstimateDeliveryStateBytes(_window.Segments, AckedBelow, withHistories);

    /// <summary>The in-flight pages changed since they were last stored, oldest first: written before the cursor.</summary>
    public List<InFlightPageWrite> DirtyPages() => _window.Parked.Dirty();

    /// <summary>Records that a page from <see cref="DirtyPages"/> is stored (or deleted, with a null state).</summary>
    public void PageWritten(InFlightPageWrite write, string? etag) => _window.Parked.Written(write, etag);

    // ---------------------------------------------------------------- stragglers

    /// <summary>See <see cref="DeliveryWindow.TryParkHead"/>.</summary>
    public bool TryParkHead(DateTimeOffset now) => _window.TryParkHead(now);

    /// <summary>See <see cref="DeliveryWindow.ParkHeldHeads"/>.</summary>
    public int ParkHeldHeads(DateTimeOffset now) => _window.ParkHeldHeads(now);

    /// <summary>
    /// Keeps the cursor record under its budget whatever is in flight: while the delivery state it would hold is
    /// estimated above <see cref="QueueCoreLimits.CursorBudgetBytes"/>, the window's head segment is parked (its
    /// messages not completed, with their delivery state, move to in-flight pages, which are bounded records of their
    /// own). Returns how many segments it parked.
    /// </summary>
    public int ParkWhileCursorOverBudget()
    {
        var parked = 0;
        while (_window.CanParkHeadForCursor && EstimateCursorBytes(withHistories: false) > _limits.CursorBudgetBytes)
        {
            _window.ParkHead();
            parked++;
        }

        return parked;
    }
}
