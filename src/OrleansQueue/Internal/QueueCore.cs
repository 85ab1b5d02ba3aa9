using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using OrleansQueue.Storage;
using MessageSegment = OrleansQueue.Storage.SegmentImage<OrleansQueue.Storage.SegmentState, OrleansQueue.Storage.StoredMessage>;

namespace OrleansQueue.Internal;

/// <summary>The queue's view of a segment of its log: the messages, by sequence number. Never changed after creation.</summary>
internal sealed record SegmentSnapshot(long Id, long FirstSeq, IReadOnlyList<StoredMessage> Messages)
{
    public long NextSeq => FirstSeq + Messages.Count;

    public long LastSeq => NextSeq - 1;

    /// <summary>The segment of the log as stored (or as an append stores it).</summary>
    public static SegmentSnapshot Of(MessageSegment segment) => new(segment.Id, segment.Segment.FirstSequence, segment.Segment.Messages);
}

/// <summary>A message waiting for a group commit, with the id it will be stored under.</summary>
internal readonly record struct PendingMessage(OutgoingMessage Message, string MessageId, long EstimatedBytes, string? DedupKey = null, string? TraceParent = null)
{
    /// <summary>The duplicate-detection key (<see cref="QueueCore.DedupHash"/>), computed once per send.</summary>
    public UInt128 Key { get; } = QueueCore.DedupHash(DedupKey ?? MessageId);
}

/// <summary>
/// What one group commit writes: the segments, in order (as the log's append planned them), and the sequence number
/// of every pending message; <paramref name="LeasedOnAppend"/> of the new messages (the first ones) carry their first
/// lease in the same write.
/// </summary>
internal sealed record AppendPlan(IReadOnlyList<MessageSegment> Segments, long[] Sequences, IReadOnlyList<StoredMessage> NewMessages, int LeasedOnAppend);

/// <summary>A segment below the head, fully completed, kept for duplicate detection until it can be deleted.</summary>
internal sealed record RetainedSegment(long Id, long LastSeq, DateTimeOffset LastEnqueuedAt);

/// <summary>
/// An in-flight page to write before the cursor: its parked messages, or null when it is empty and is to be deleted;
/// <paramref name="Version"/> is what <see cref="QueueCore.PageWritten"/> records once it is stored.
/// </summary>
internal readonly record struct InFlightPageWrite(long Id, long Version, InFlightPageState? State, string? ETag);

/// <summary>One leased message handed to a receiver.</summary>
internal readonly record struct Lease(StoredMessage Message, int DeliveryCount, Guid Token, DateTimeOffset LockedUntil);

/// <summary>
/// The in-memory state machine of one queue: the durable tail, the active window of head segments with each message's
/// delivery state, the duplicate-detection index and the segments retained for it. It does no I/O: the grain reads
/// and writes storage and tells this class what became durable. Every collection here is bounded by the options.
/// </summary>
internal sealed class QueueCore
{
    /// <summary>Delivery attempts remembered per message (for the dead-letter entry).</summary>
    internal const int MaxAttemptsKept = 10;

    /// <summary>Longest exception type name and message kept per message.</summary>
    internal const int MaxErrorLength = 256;

    /// <summary>Longest dead-letter description kept (a consumer's reason is cut to this).</summary>
    internal const int MaxDescriptionLength = 512;

    /// <summary>
    /// Most moves to the dead-letter grain stored in the cursor record at once, and most estimated bytes they take
    /// there (<see cref="MaxPendingMoveBytes"/>): a message to dead-letter beyond them waits its turn as a delayed
    /// message (<see cref="MoveDeferral"/>), so a dead-letter storm cannot grow the cursor. The more are pending, the
    /// more each move batch and cursor write carries (W6: 6.7k moves/s at 200, 13k at 1,000).
    /// </summary>
    internal const int MaxPendingMoves = 1000;

    /// <summary>
    /// Most estimated bytes of pending moves (<see cref="EstimateMoveBytes"/>): 245 KiB, what 200 moves with the longest
    /// descriptions take, so the cursor's worst case does not grow with <see cref="MaxPendingMoves"/>.
    /// </summary>
    internal const long MaxPendingMoveBytes = 245 * 1024;

    /// <summary>A pending move's estimated share of the cursor record.</summary>
    internal static long EstimateMoveBytes(string? description) => 200 + 2L * (description?.Length ?? 0);

    internal static readonly TimeSpan MoveDeferral = TimeSpan.FromSeconds(1);


    /// <summary>
    /// The most a parked message's delivery record can take in a page, whatever happens to it later: the fixed
    /// fields, <see cref="MaxAttemptsKept"/> attempts and two strings of <see cref="MaxErrorLength"/> characters.
    /// </summary>
    internal const int ParkedRecordMaxBytes = 200 + 16 * MaxAttemptsKept + 4 * MaxErrorLength;

    private enum EntryState : byte { Ready, Leased, Completed, Moving }

    private struct Entry
    {
        public EntryState State;
        public int DeliveryCount;
        public Guid Token;
        public DateTimeOffset LockedUntil;
        public DateTimeOffset NotBefore;
        public List<DateTimeOffset>? Attempts;
        public string? ErrorType;
        public string? ErrorMessage;

        /// <summary>A move to the dead-letter grain that waits for room among the pending moves (not stored).</summary>
        public DeadLetterReason? DeferredMove;
        public string? DeferredDescription;
    }

    /// <summary>A message in flight that the window moved past, with its delivery state and the page that stores it.</summary>
    private sealed class ParkedEntry(StoredMessage message, long page, long bytes)
    {
        public StoredMessage Message { get; } = message;
        public long Page { get; } = page;
        public long Bytes { get; } = bytes;
        public Entry Entry;
    }

    /// <summary>One in-flight page as this activation knows it; <see cref="Version"/> counts its changes.</summary>
    private sealed class InFlightPage(long id)
    {
        public long Id { get; } = id;
        public SortedSet<long> Seqs { get; } = [];
        public long Bytes { get; set; }
        public string? ETag { get; set; }
        public long Version { get; set; }
        public long WrittenVersion { get; set; }
        public bool Dirty => Version != WrittenVersion;
    }

    private sealed class WindowSegment(long id, long firstSeq)
    {
        public long Id { get; } = id;
        public long FirstSeq { get; } = firstSeq;
        public List<StoredMessage> Messages { get; } = [];
        public List<Entry> Entries { get; } = [];
        public int CompletedCount { get; set; }
        public long NextSeq => FirstSeq + Messages.Count;
        public bool AllCompleted => CompletedCount == Messages.Count;
    }

    private readonly QueueCoreLimits _limits;
    private readonly List<WindowSegment> _window = [];
    private readonly SortedSet<long> _ready = [];
    private readonly Dictionary<Guid, long> _leases = [];
    private readonly PriorityQueue<Guid, DateTimeOffset> _expiries = new();
    // Keyed by DedupHash(id): 16 bytes an id instead of the id string, for up to DedupMaxIds (200,000) ids per queue.
    private readonly Dictionary<UInt128, (long Seq, DateTimeOffset At)> _dedup = [];
    private readonly Queue<(UInt128 Id, DateTimeOffset At)> _dedupOrder = new();
    private readonly List<RetainedSegment> _retained = [];
    private readonly PriorityQueue<long, DateTimeOffset> _delayed = new();
    private readonly SortedDictionary<long, MoveRecord> _moves = [];
    private readonly Random _random = new();
    private readonly SortedDictionary<long, ParkedEntry> _parked = [];
    private readonly SortedDictionary<long, InFlightPage> _pages = [];
    private int _delayedCount;
    private readonly Queue<long> _deferredMoves = new();
    private long _movesBytes;
    private readonly Dictionary<string, string> _interned = new(StringComparer.Ordinal);

    /// <summary>Most distinct texts <see cref="Intern"/> keeps.</summary>
    private const int MaxInternedStrings = 1024;
    private HashSet<long>? _restoreCompleted;
    private Dictionary<long, DeliveryRecord>? _restoreRecords;

    public QueueCore(QueueCoreLimits limits, SegmentSnapshot tail, QueueMetaState meta)
    {
        _limits = limits;
        Tail = tail;
        HeadSegment = meta.HeadSegment;
        RetainedFrom = meta.RetainedFrom;
        AckedBelow = meta.AckedBelow;
        TotalCompleted = meta.TotalCompleted;
        TotalPurged = meta.TotalPurged;
        TotalDeadLettered = meta.TotalDeadLettered;
        Settings = meta.Settings ?? new QueueSettingsState();
        Subscriptions = meta.Subscriptions;
        Listing = meta.Listing;
        foreach (var move in meta.PendingMoves)
        {
            _moves[move.Seq] = move;
            _movesBytes += EstimateMoveBytes(move.Description);
        }

        DurableHeadSegment = meta.HeadSegment;
        InFlightPagesFrom = meta.InFlightPagesFrom;
        InFlightPagesTo = Math.Max(meta.InFlightPagesFrom, meta.InFlightPagesTo);
        _restoreCompleted = [.. meta.Completed];
        _restoreRecords = meta.Deliveries.ToDictionary(d => d.Seq);
    }

    /// <summary>The newest segment, as durably stored.</summary>
    public SegmentSnapshot Tail { get; private set; }

    public long HeadSegment { get; private set; }

    /// <summary>The head as the last durably written cursor record has it; segments below it may be deleted.</summary>
    public long DurableHeadSegment { get; private set; }

    public long RetainedFrom { get; private set; }

    public long AckedBelow { get; private set; }

    /// <summary>The first in-flight page not deleted; see <see cref="QueueMetaState.InFlightPagesFrom"/>.</summary>
    public long InFlightPagesFrom { get; private set; }

    /// <summary>The id the next new in-flight page gets.</summary>
    public long InFlightPagesTo { get; private set; }

    /// <summary>Messages in flight that the window moved past (parked in in-flight pages).</summary>
    public int ParkedCount => _parked.Count;

    /// <summary>Messages in flight: locked, waiting out a redelivery delay, or on their way to the dead-letter grain.</summary>
    public int InFlightCount => _leases.Count + _delayedCount + _moves.Count;

    /// <summary>Whether the queue holds its in-flight limit: receives and pushes get nothing until some settle.</summary>
    public bool InFlightLimitReached => InFlightCount >= _limits.MaxInFlight;

    /// <summary>Messages waiting out a redelivery delay.</summary>
    public int DelayedCount => _delayedCount;

    public long TotalCompleted { get; private set; }

    public long TotalPurged { get; private set; }

    public long TotalDeadLettered { get; private set; }

    /// <summary>Per-queue settings, stored in the cursor record.</summary>
    public QueueSettingsState Settings { get; set; }

    /// <summary>The subscribed consumers, stored in the cursor record (the grain manages them).</summary>
    public List<SubscriptionRecord> Subscriptions { get; }

    /// <summary>What the queue registry was last told about this queue; see <see cref="QueueMetaState.Listing"/>.</summary>
    public RegistryListing Listing { get; set; }

    public TimeSpan LockDuration => Settings.AckDeadline ?? _limits.DefaultLockDuration;

    public int MaxDeliveryCount => Settings.MaxDeliveryCount ?? _limits.DefaultMaxDeliveryCount;

    public RedeliveryPolicy Redelivery => Settings.RedeliveryMode is { } mode
        ? new RedeliveryPolicy
        {
            Mode = mode,
            Delay = Settings.RedeliveryDelay ?? TimeSpan.Zero,
            MaxDelay = Settings.RedeliveryMaxDelay ?? Settings.RedeliveryDelay ?? TimeSpan.Zero,
            Jitter = Settings.RedeliveryJitter ?? 0.2,
        }
        : RedeliveryPolicy.Immediate;

    /// <summary>Moves to the dead-letter grain that are stored but not finished, oldest first.</summary>
    public IReadOnlyCollection<MoveRecord> PendingMoves => _moves.Values;

    public long NextSeq => Tail.NextSeq;

    public int ReadyInWindow => _ready.Count;

    public int LockedCount => _leases.Count;

    /// <summary>Id of the last segment in the active window (head - 1 when the window is empty).</summary>
    public long LoadedThrough => _window.Count > 0 ? _window[^1].Id : HeadSegment - 1;

    /// <summary>The sequence number after the last message in the window.</summary>
    public long NextSeqLoaded() => _window.Count > 0 ? _window[^1].NextSeq : AckedBelow;

    /// <summary>The next segment to load into the window for delivery, or null when the window is full or has everything.</summary>
    public long? NextSegmentToLoad =>
        _window.Count < _limits.ActiveSegments && LoadedThrough < Tail.Id ? LoadedThrough + 1 : null;

    public IReadOnlyList<RetainedSegment> Retained => _retained;

    /// <summary>Messages neither completed nor purged.</summary>
    public long ActiveCount => NextSeq - AckedBelow - CompletedAboveAckedCount() + _parked.Count;

    /// <summary>At least <see cref="ActiveCount"/>, in constant time.</summary>
    public long ActiveUpperBound => NextSeq - AckedBelow + _parked.Count;

    /// <summary>Active messages a receive can get now: not locked, not waiting out a redelivery delay, not being moved to the dead-letter grain.</summary>
    public long ReadyCount => ActiveCount - InFlightCount;

    // ---------------------------------------------------------------- window

    /// <summary>Adds the next segment to the window, restoring the delivery state that the stored cursor record holds for it.</summary>
    public void AddWindowSegment(long id, SegmentState segment, DateTimeOffset now)
    {
        if (id != LoadedThrough + 1)
        {
            throw new InvalidOperationException($"Segment {id} is not next after {LoadedThrough}.");
        }

        var window = new WindowSegment(id, segment.FirstSequence);
        _window.Add(window);
        var completed = _restoreCompleted;
        var records = _restoreRecords;
        foreach (var message in segment.Messages)
        {
            window.Messages.Add(message);
            var entry = new Entry();
            if (message.Seq < AckedBelow || completed?.Contains(message.Seq) == true)
            {
                entry.State = EntryState.Completed;
                window.CompletedCount++;
            }
            else
            {
                entry = RestoreEntry(message, records?.GetValueOrDefault(message.Seq), now);
            }

            window.Entries.Add(entry);
        }

        AdvanceHead();
    }

    /// <summary>
    /// The delivery state of a message not completed, from its stored record (or the first lease its segment stored
    /// with it): locked while its lock holds, moving when a move is stored for it, else ready (perhaps delayed).
    /// </summary>
    private Entry RestoreEntry(StoredMessage message, DeliveryRecord? record, DateTimeOffset now)
    {
        var entry = new Entry();
        if (record is not null)
        {
            entry.DeliveryCount = record.Count;
            entry.NotBefore = record.NotBefore ?? default;
            entry.Attempts = record.Attempts?.Select(DateTimeOffset.FromUnixTimeMilliseconds).ToList();
            entry.ErrorType = record.ErrorType;
            entry.ErrorMessage = record.ErrorMessage;
            if (record.DeferredMove is { } deferred && !_moves.ContainsKey(message.Seq))
            {
                entry.DeferredMove = deferred;
                entry.DeferredDescription = record.DeferredDescription;
                _deferredMoves.Enqueue(message.Seq);
            }

            if (_moves.ContainsKey(message.Seq))
            {
                entry.State = EntryState.Moving;
            }
            else if (record.Token is { } token && record.LockedUntil is { } until && until > now)
            {
                Relock(ref entry, message.Seq, token, until);
            }
        }
        else if (_moves.ContainsKey(message.Seq))
        {
            entry.State = EntryState.Moving;
        }
        else if (message.FirstLeaseToken is { } token && message.FirstLeasedUntil is { } until)
        {
            // Leased in the write that stored it, and the cursor record has not recorded it since.
            entry.DeliveryCount = 1;
            entry.Attempts = [message.EnqueuedAt];
            if (until > now)
            {
                Relock(ref entry, message.Seq, token, until);
            }
        }

        if (entry.State == EntryState.Ready)
        {
            MakeReady(message.Seq, entry.NotBefore, now);
        }

        return entry;
    }

    private void Relock(ref Entry entry, long seq, Guid token, DateTimeOffset until)
    {
        entry.State = EntryState.Leased;
        entry.Token = token;
        entry.LockedUntil = until;
        _leases[token] = seq;
        _expiries.Enqueue(token, until);
    }

    /// <summary>
    /// Restores one in-flight page read at activation, before the window is loaded. Entries at or above the cursor's
    /// <see cref="AckedBelow"/> were parked by a write whose cursor write never happened: the window has them, so
    /// they are dropped here and the page is rewritten without them (deleted when nothing is left).
    /// </summary>
    public void RestorePage(long id, InFlightPageState? state, string? etag, DateTimeOffset now)
    {
        var page = new InFlightPage(id) { ETag = etag };
        _pages[id] = page;
        InFlightPagesTo = Math.Max(InFlightPagesTo, id + 1);
        var stale = false;
        foreach (var parked in state?.Entries ?? [])
        {
            var seq = parked.Message.Seq;
            if (seq >= AckedBelow || _parked.ContainsKey(seq))
            {
                stale = true;
                continue;
            }

            var bytes = ParkedBytes(parked.Message);
            var entry = new ParkedEntry(parked.Message, id, bytes);
            _parked[seq] = entry;
            page.Seqs.Add(seq);
            page.Bytes += bytes;
            entry.Entry = RestoreEntry(parked.Message, parked.Delivery, now);
        }

        if (stale || page.Seqs.Count == 0)
        {
            page.Version++;
        }
    }

    /// <summary>Drops the restore index once activation has loaded the window.</summary>
    public void EndRestore()
    {
        _restoreCompleted = null;
        _restoreRecords = null;
    }

    /// <summary>The highest sequence number that restored delivery state refers to; the window must reach it.</summary>
    public static long HighestRecordedSeq(QueueMetaState meta) =>
        Math.Max(Math.Max(meta.Completed.Count > 0 ? meta.Completed[^1] : 0, meta.Deliveries.Count > 0 ? meta.Deliveries.Max(d => d.Seq) : 0),
            meta.PendingMoves.Count > 0 ? meta.PendingMoves.Max(m => m.Seq) : 0);

    // ---------------------------------------------------------------- enqueue

    public bool TryGetDuplicate(string messageId, out long seq) => TryGetDuplicate(DedupHash(messageId), out seq);

    public bool TryGetDuplicate(UInt128 key, out long seq)
    {
        var found = _dedup.TryGetValue(key, out var entry);
        seq = entry.Seq;
        return found;
    }

    /// <summary>
    /// The duplicate-detection key of an id: the first 128 bits of the SHA-256 of its UTF-8 bytes. Two different ids
    /// share a key with a probability of about n² / 2¹²⁹ (1e-28 for 200,000 ids), and SHA-256 gives no practical way
    /// to make them collide on purpose, so the index need not keep the id strings.
    /// </summary>
    internal static UInt128 DedupHash(string id)
    {
        var length = Encoding.UTF8.GetMaxByteCount(id.Length);
        byte[]? rented = null;
        var utf8 = length <= 1024 ? stackalloc byte[length] : (rented = ArrayPool<byte>.Shared.Rent(length));
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(utf8[..Encoding.UTF8.GetBytes(id, utf8)], hash);
        if (rented is not null)
        {
            ArrayPool<byte>.Shared.Return(rented);
        }

        return BinaryPrimitives.ReadUInt128LittleEndian(hash);
    }

    /// <summary>
    /// Whether messages appended now would be the next to deliver: nothing is ready in the window (delayed messages
    /// whose time has come count as ready). Only then may an append lease its messages in the write that stores them.
    /// </summary>
    public bool CanLeaseOnAppend(DateTimeOffset now)
    {
        if (!WholeQueueInWindow())
        {
            return false;
        }

        ReleaseDelayed(now);
        return _ready.Count == 0;
    }

    /// <summary>
    /// The tail is loaded (so every older message is in the window, with its stored first lease restored), or it is
    /// empty and joins the window next. Otherwise older messages wait outside the window and must go first.
    /// </summary>
    private bool WholeQueueInWindow() =>
        (_window.Count > 0 && _window[^1].Id == Tail.Id)
        || (Tail.Messages.Count == 0 && Tail.Id == LoadedThrough + 1 && _window.Count < _limits.ActiveSegments);

    /// <summary>
    /// Plans the segment writes for the pending messages into <paramref name="append"/> (the log's plan of an append
    /// after <see cref="Tail"/>, which decides the segments and chunks) without changing the core. With
    /// <paramref name="leaseOnAppend"/> above zero, that many of the new messages (the first ones, and only those
    /// whose segment joins the active window when written) are stored already leased for
    /// <paramref name="lockDuration"/>: their first delivery is durable with the message, and
    /// <see cref="SegmentWritten"/> returns their leases. Call it only when <see cref="CanLeaseOnAppend"/> said so.
    /// </summary>
    public AppendPlan PlanAppend(SegmentAppend<SegmentState, StoredMessage> append, IReadOnlyList<PendingMessage> pending, DateTimeOffset now,
        int leaseOnAppend = 0, TimeSpan lockDuration = default)
    {
        if (append.SegmentId != Tail.Id)
        {
            throw new InvalidOperationException($"The append starts at segment {append.SegmentId}, not at the tail, segment {Tail.Id}.");
        }

        var sequences = new long[pending.Count];
        var newMessages = new List<StoredMessage>(pending.Count);
        Dictionary<UInt128, long>? inPlan = null;
        var next = NextSeq;
        var leased = 0;
        // Which segments join the window when written: the window's last one, then new ones while it has room.
        var windowLast = LoadedThrough;
        var windowCount = _window.Count;
        bool JoinsWindow(long id)
        {
            if (windowCount > 0 && windowLast == id)
            {
                return true;
            }

            if (id == windowLast + 1 && windowCount < _limits.ActiveSegments)
            {
                windowLast = id;
                windowCount++;
                return true;
            }

            return false;
        }

        leaseOnAppend = Math.Min(leaseOnAppend, Math.Max(0, _limits.MaxInFlight - InFlightCount));
        var segmentId = append.SegmentId;
        var leasing = leaseOnAppend > 0 && WholeQueueInWindow() && JoinsWindow(segmentId);

        for (var i = 0; i < pending.Count; i++)
        {
            var p = pending[i];
            var key = p.Key;
            if (TryGetDuplicate(key, out var existing) || (inPlan?.TryGetValue(key, out existing) ?? false))
            {
                sequences[i] = existing;
                continue;
            }

            var stored = new StoredMessage
            {
                Id = p.MessageId,
                Seq = next,
                Body = p.Message.Body,
                ContentType = p.Message.ContentType,
                Headers = p.Message.Headers is { Count: > 0 } h ? new Dictionary<string, string>(h) : null,
                EnqueuedAt = now,
                DedupKey = p.DedupKey,
                TraceParent = p.TraceParent,
                Key = key,
            };
            if (append.Add(stored, p.EstimatedBytes) != segmentId)
            {
                segmentId = append.SegmentId;
                leasing = leasing && JoinsWindow(segmentId);
            }

            if (leasing && leased < leaseOnAppend)
            {
                // The append stores the message as it is when written: its first lease goes with it.
                stored.FirstLeaseToken = RandomIds.NewGuid();
                stored.FirstLeasedUntil = now + lockDuration;
                leased++;
            }

            newMessages.Add(stored);
            sequences[i] = next;
            if (_limits.DedupEnabled)
            {
                (inPlan ??= [])[key] = next;
            }

            next++;
        }

        return new AppendPlan(append.Writes, sequences, newMessages, leased);
    }

    /// <summary>
    /// Records that a planned segment was durably written; returns the leases of the messages it stored already
    /// leased, in sequence order.
    /// </summary>
    public List<Lease> SegmentWritten(MessageSegment segment, DateTimeOffset now)
    {
        var written = SegmentSnapshot.Of(segment);
        if (written.Id != Tail.Id && written.Id != Tail.Id + 1)
        {
            throw new InvalidOperationException($"Segment {written.Id} does not follow tail {Tail.Id}.");
        }

        var previousNext = written.Id == Tail.Id ? Tail.NextSeq : written.FirstSeq;
        Tail = written;

        var added = written.Messages.Skip((int)(previousNext - written.FirstSeq)).ToList();
        foreach (var message in added)
        {
            Remember(message.Key ?? DedupHash(message.DedupKey ?? message.Id), message.Seq, message.EnqueuedAt);
        }

        TrimDedup(now);

        // New messages become deliverable only now that they are durable.
        var leases = new List<Lease>();
        if (_window.Count > 0 && _window[^1].Id == written.Id)
        {
            AppendToWindow(_window[^1], added, leases);
        }
        else if (written.Id == LoadedThrough + 1 && _window.Count < _limits.ActiveSegments)
        {
            var window = new WindowSegment(written.Id, written.FirstSeq);
            _window.Add(window);
            AppendToWindow(window, written.Messages, leases);
        }

        AdvanceHead();
        return leases;
    }

    private void AppendToWindow(WindowSegment window, IEnumerable<StoredMessage> messages, List<Lease> leases)
    {
        foreach (var message in messages)
        {
            window.Messages.Add(message);
            if (message.FirstLeaseToken is { } token && message.FirstLeasedUntil is { } until)
            {
                window.Entries.Add(new Entry
                {
                    State = EntryState.Leased, DeliveryCount = 1, Token = token, LockedUntil = until, Attempts = [message.EnqueuedAt],
                });
                _leases[token] = message.Seq;
                _expiries.Enqueue(token, until);
                leases.Add(new Lease(message, 1, token, until));
            }
            else
            {
                window.Entries.Add(default);
                _ready.Add(message.Seq);
            }
        }
    }

    /// <summary>Adds an id found in a stored segment while rebuilding the index after activation (oldest first).</summary>
    public void RememberId(string messageId, long seq, DateTimeOffset enqueuedAt) => Remember(DedupHash(messageId), seq, enqueuedAt);

    private void Remember(UInt128 key, long seq, DateTimeOffset enqueuedAt)
    {
        if (!_limits.DedupEnabled)
        {
            return;
        }

        _dedup[key] = (seq, enqueuedAt);
        _dedupOrder.Enqueue((key, enqueuedAt));
        while (_dedupOrder.Count > _limits.DedupMaxIds)
        {
            ForgetOldestId();
        }
    }

    /// <summary>Forgets ids older than the duplicate-detection window.</summary>
    public void TrimDedup(DateTimeOffset now)
    {
        var horizon = now - _limits.DedupWindow;
        while (_dedupOrder.TryPeek(out var oldest) && oldest.At < horizon)
        {
            ForgetOldestId();
        }
    }

    private void ForgetOldestId()
    {
        var (id, at) = _dedupOrder.Dequeue();
        // An id sent again after its window has a newer entry: keep that one.
        if (_dedup.TryGetValue(id, out var entry) && entry.At == at)
        {
            _dedup.Remove(id);
        }
    }

    // ---------------------------------------------------------------- leases

    /// <summary>Leases up to <paramref name="max"/> ready messages in sequence order.</summary>
    public List<Lease> Lease(int max, TimeSpan duration, DateTimeOffset now)
    {
        ReleaseDelayed(now);
        max = Math.Min(max, Math.Max(0, _limits.MaxInFlight - InFlightCount));
        var leases = new List<Lease>(Math.Min(max, _ready.Count));
        while (leases.Count < max && _ready.Count > 0)
        {
            var seq = _ready.Min;
            _ready.Remove(seq);
            Touch(seq);
            ref var entry = ref EntryRef(seq, out var message);
            entry.State = EntryState.Leased;
            entry.DeliveryCount++;
            entry.NotBefore = default;
            (entry.Attempts ??= []).Add(now);
            if (entry.Attempts.Count > MaxAttemptsKept)
            {
                entry.Attempts.RemoveAt(0);
            }

            entry.Token = RandomIds.NewGuid();
            entry.LockedUntil = now + duration;
            _leases[entry.Token] = seq;
            _expiries.Enqueue(entry.Token, entry.LockedUntil);
            leases.Add(new Lease(message, entry.DeliveryCount, entry.Token, entry.LockedUntil));
        }

        return leases;
    }

    /// <summary>
    /// Completes all the leased messages, or throws <see cref="QueueException"/> and changes nothing if any token is
    /// unknown; returns the completed messages with their delivery counts.
    /// </summary>
    public List<(StoredMessage Message, int DeliveryCount)> Complete(IReadOnlyList<Guid> tokens)
    {
        var lost = tokens.Where(t => !_leases.ContainsKey(t)).Distinct().ToList();
        if (lost.Count > 0)
        {
            throw LockLost(lost);
        }

        var completed = new List<(StoredMessage, int)>(tokens.Count);
        foreach (var token in tokens.Distinct())
        {
            var seq = _leases[token];
            _leases.Remove(token);
            ref var entry = ref EntryRef(seq, out var message);
            completed.Add((message, entry.DeliveryCount));
            entry.Token = Guid.Empty;
            MarkCompleted(seq, ref entry);
            TotalCompleted++;
        }

        AdvanceHead();
        return completed;
    }

    /// <summary>
    /// Ends the lease as a failed delivery: the message is ready again after the redelivery policy's delay, or, past
    /// the queue's maximum delivery count (or for a fail-fast <paramref name="errorType"/>), starts its move to the
    /// dead-letter grain. <paramref name="immediate"/> skips the delay (the consumer never got to handle it).
    /// </summary>
    public void Abandon(Guid token, DateTimeOffset now, string? errorType = null, string? errorMessage = null, bool immediate = false)
    {
        if (!_leases.Remove(token, out var seq))
        {
            throw LockLost([token]);
        }

        ReleaseFailed(seq, now, errorType, errorMessage, immediate);
    }

    /// <summary>Ends the lease and starts the message's move to the dead-letter grain (null: deferred, see <see cref="MaxPendingMoves"/>).</summary>
    public MoveRecord? DeadLetter(Guid token, DeadLetterReason reason, string? description, DateTimeOffset now, string? errorType = null, string? errorMessage = null)
    {
        if (!_leases.Remove(token, out var seq))
        {
            throw LockLost([token]);
        }

        Touch(seq);
        ref var entry = ref EntryRef(seq, out _);
        RecordError(ref entry, errorType, errorMessage);
        return BeginMove(seq, ref entry, reason, description, now);
    }

    /// <summary>Whether a handler exception of this type dead-letters at once.</summary>
    public bool IsFailFast(string? exceptionType) =>
        exceptionType is not null && Settings.FailFastExceptionTypes?.Contains(exceptionType) == true;

    private void ReleaseFailed(long seq, DateTimeOffset now, string? errorType, string? errorMessage, bool immediate)
    {
        Touch(seq);
        ref var entry = ref EntryRef(seq, out _);
        entry.Token = Guid.Empty;
        RecordError(ref entry, errorType, errorMessage);
        if (IsFailFast(errorType))
        {
            BeginMove(seq, ref entry, DeadLetterReason.FailFast, $"The handler threw {errorType}, which this queue lists as fail-fast.", now);
        }
        else if (entry.DeliveryCount >= MaxDeliveryCount)
        {
            BeginMove(seq, ref entry, DeadLetterReason.MaxDeliveriesExceeded,
                $"Delivered {entry.DeliveryCount} times without being completed (the queue's maximum is {MaxDeliveryCount}).", now);
        }
        else
        {
            entry.State = EntryState.Ready;
            entry.NotBefore = immediate ? default : now + Redelivery.DelayAfter(entry.DeliveryCount, _random.NextDouble());
            MakeReady(seq, entry.NotBefore, now);
        }
    }

    private void RecordError(ref Entry entry, string? errorType, string? errorMessage)
    {
        if (errorType is not null)
        {
            entry.ErrorType = Intern(errorType is { Length: > MaxErrorLength } ? errorType[..MaxErrorLength] : errorType);
            entry.ErrorMessage = Intern(errorMessage is { Length: > MaxErrorLength } ? errorMessage[..MaxErrorLength] : errorMessage);
        }
    }

    /// <summary>
    /// One instance per distinct error or dead-letter text (up to <see cref="MaxInternedStrings"/>): the binary
    /// encoding stores a repeated instance once per record, so a thousand messages that failed the same way cost one
    /// copy of the text in the cursor, not a thousand.
    /// </summary>
    private string? Intern(string? text)
    {
        if (text is null)
        {
            return null;
        }

        if (_interned.TryGetValue(text, out var known))
        {
            return known;
        }

        if (_interned.Count < MaxInternedStrings)
        {
            _interned[text] = text;
        }

        return text;
    }

    private MoveRecord? BeginMove(long seq, ref Entry entry, DeadLetterReason reason, string? description, DateTimeOffset now)
    {
        entry.Token = Guid.Empty;
        if (description is { Length: > MaxDescriptionLength })
        {
            description = description[..MaxDescriptionLength];
        }

        description = Intern(description);

        if (_moves.Count >= MaxPendingMoves || _movesBytes + EstimateMoveBytes(description) > MaxPendingMoveBytes)
        {
            // Waits its turn as a delayed message; its delivery record keeps the decision across a reload.
            entry.State = EntryState.Ready;
            if (entry.DeferredMove is null)
            {
                _deferredMoves.Enqueue(seq); // once: deferred again, it keeps its place
            }

            entry.DeferredMove = reason;
            entry.DeferredDescription = description;
            entry.NotBefore = now + MoveDeferral;
            MakeReady(seq, entry.NotBefore, now);
            return null;
        }

        entry.State = EntryState.Moving;
        entry.DeferredMove = null;
        entry.DeferredDescription = null;

        var move = new MoveRecord { Seq = seq, MoveId = RandomIds.NewGuid(), Reason = reason, Description = description, At = now };
        _moves[seq] = move;
        _movesBytes += EstimateMoveBytes(description);
        return move;
    }

    private void MakeReady(long seq, DateTimeOffset notBefore, DateTimeOffset now)
    {
        if (notBefore > now)
        {
            _delayed.Enqueue(seq, notBefore);
            _delayedCount++;
        }
        else
        {
            _ready.Add(seq);
        }
    }

    /// <summary>Moves delayed messages whose time has come into the ready set.</summary>
    public void ReleaseDelayed(DateTimeOffset now)
    {
        while (_delayed.TryPeek(out var seq, out var due) && due <= now)
        {
            _delayed.Dequeue();
            ref var entry = ref TryEntryRef(seq);
            if (!System.Runtime.CompilerServices.Unsafe.IsNullRef(ref entry) && entry is { State: EntryState.Ready } && entry.NotBefore == due)
            {
                _delayedCount--;
                if (entry.DeferredMove is { } reason)
                {
                    Touch(seq);
                    BeginMove(seq, ref entry, reason, entry.DeferredDescription, now);
                }
                else if (entry.DeliveryCount >= MaxDeliveryCount)
                {
                    // A deferred move read back after a reload (the deferral is not stored).
                    Touch(seq);
                    BeginMove(seq, ref entry, DeadLetterReason.MaxDeliveriesExceeded,
                        $"Delivered {entry.DeliveryCount} times without being completed (the queue's maximum is {MaxDeliveryCount}).", now);
                }
                else
                {
                    _ready.Add(seq);
                }
            }
        }
    }

    /// <summary>The stored message of a pending move (in the active window).</summary>
    public StoredMessage MessageOf(MoveRecord move)
    {
        EntryRef(move.Seq, out var message);
        return message;
    }

    /// <summary>The dead-letter entry for a pending move.</summary>
    public DeadLetterEntry ToDeadLetterEntry(MoveRecord move, string queueName)
    {
        ref var entry = ref EntryRef(move.Seq, out var message);
        var (consumerReason, description) = DeadLetterNote.Decode(move.Description);
        return new DeadLetterEntry
        {
            Message = ToQueueMessage(message, entry.DeliveryCount),
            SourceQueue = queueName,
            Reason = move.Reason,
            ConsumerReason = consumerReason,
            Description = description,
            LastExceptionType = entry.ErrorType,
            LastExceptionMessage = entry.ErrorMessage,
            Attempts = entry.Attempts?.ToArray() ?? [],
            DeadLetteredAt = move.At,
        };
    }

    /// <summary>Messages whose move waits for room among the pending moves (each counted once).</summary>
    internal int DeferredMoveCount => _deferredMoves.Count;

    /// <summary>Records that the dead-letter grain stored the move's entry: the message leaves the queue.</summary>
    public void CompleteMove(long seq)
    {
        if (!_moves.Remove(seq, out var completed))
        {
            return;
        }

        _movesBytes -= EstimateMoveBytes(completed.Description);

        // A deferred move takes the room at once, rather than when its deferral ends.
        while (_moves.Count < MaxPendingMoves && _deferredMoves.TryPeek(out var waiting))
        {
            ref var deferred = ref TryEntryRef(waiting);
            var stillDeferred = !System.Runtime.CompilerServices.Unsafe.IsNullRef(ref deferred)
                && deferred is { State: EntryState.Ready, DeferredMove: not null } && deferred.NotBefore > default(DateTimeOffset);
            if (stillDeferred && _movesBytes + EstimateMoveBytes(deferred.DeferredDescription) > MaxPendingMoveBytes)
            {
                break; // it keeps its place until there is room for it
            }

            _deferredMoves.Dequeue();
            if (stillDeferred && deferred.DeferredMove is { } reason)
            {
                _delayedCount--; // its entry in the delayed queue no longer matches and is skipped
                var decidedAt = deferred.NotBefore - MoveDeferral; // when it was to be dead-lettered
                deferred.NotBefore = default;
                Touch(waiting);
                BeginMove(waiting, ref deferred, reason, deferred.DeferredDescription, decidedAt);
            }
        }

        ref var entry = ref TryEntryRef(seq);
        if (!System.Runtime.CompilerServices.Unsafe.IsNullRef(ref entry) && entry.State == EntryState.Moving)
        {
            MarkCompleted(seq, ref entry);
            TotalDeadLettered++;
        }

        AdvanceHead();
    }

    /// <summary>Extends the lease to <paramref name="now"/> + <paramref name="duration"/>.</summary>
    public DateTimeOffset Renew(Guid token, TimeSpan duration, DateTimeOffset now)
    {
        if (!_leases.TryGetValue(token, out var seq))
        {
            throw LockLost([token]);
        }

        Touch(seq);
        ref var entry = ref EntryRef(seq, out _);
        entry.LockedUntil = now + duration;
        _expiries.Enqueue(token, entry.LockedUntil);
        return entry.LockedUntil;
    }

    public bool IsLeased(Guid token) => _leases.ContainsKey(token);

    /// <summary>
    /// Undoes a delivery nobody got (its receive was cancelled): the message is ready at once, with the delivery
    /// count and attempts it had before. False when the token no longer locks anything.
    /// </summary>
    public bool Unlock(Guid token, DateTimeOffset now)
    {
        if (!_leases.Remove(token, out var seq))
        {
            return false;
        }

        Touch(seq);
        ref var entry = ref EntryRef(seq, out _);
        entry.State = EntryState.Ready;
        entry.Token = Guid.Empty;
        entry.DeliveryCount = Math.Max(0, entry.DeliveryCount - 1);
        if (entry.Attempts is { Count: > 0 } attempts)
        {
            attempts.RemoveAt(attempts.Count - 1);
        }

        entry.NotBefore = default;
        MakeReady(seq, default, now);
        return true;
    }

    /// <summary>The end of the lease, or null when the token is not leased.</summary>
    public DateTimeOffset? LockedUntil(Guid token) =>
        _leases.TryGetValue(token, out var seq) ? EntryRef(seq, out _).LockedUntil : null;

    /// <summary>Makes every message whose lease ended by <paramref name="now"/> ready again; returns how many.</summary>
    public int ExpireLeases(DateTimeOffset now)
    {
        var expired = 0;
        while (_expiries.TryPeek(out var token, out var due) && due <= now)
        {
            _expiries.Dequeue();
            if (!_leases.TryGetValue(token, out var seq))
            {
                continue; // settled already
            }

            ref var entry = ref EntryRef(seq, out _);
            if (entry.LockedUntil > now)
            {
                continue; // renewed: a later expiry is queued
            }

            _leases.Remove(token);
            ReleaseFailed(seq, now, null, null, immediate: false);
            expired++;
        }

        return expired;
    }

    /// <summary>When the next lease ends or delayed message becomes ready, or null when neither is waiting.</summary>
    public DateTimeOffset? NextWakeUp()
    {
        var expiry = NextExpiry();
        if (_delayed.TryPeek(out _, out var due) && (expiry is null || due < expiry))
        {
            return due;
        }

        return expiry;
    }

    /// <summary>When the earliest open lease ends, or null when none is open.</summary>
    public DateTimeOffset? NextExpiry()
    {
        while (_expiries.TryPeek(out var token, out var due))
        {
            if (_leases.TryGetValue(token, out var seq) && EntryRef(seq, out _).LockedUntil == due)
            {
                return due;
            }

            _expiries.Dequeue(); // stale: settled or renewed
        }

        return null;
    }

    // ---------------------------------------------------------------- purge, stats, browse

    /// <summary>Marks every message completed-by-purge; returns how many were removed.</summary>
    public long Purge()
    {
        var removed = ActiveCount;
        _ready.Clear();
        _leases.Clear();
        _expiries.Clear();
        _delayed.Clear();
        _delayedCount = 0;
        _deferredMoves.Clear();
        _parked.Clear();
        foreach (var page in _pages.Values)
        {
            page.Seqs.Clear();
            page.Bytes = 0;
            page.Version++;
        }

        foreach (var window in _window)
        {
            if (window.Id != Tail.Id)
            {
                _retained.Add(ToRetained(window));
            }
        }

        _window.Clear();
        HeadSegment = Tail.Id;
        AckedBelow = NextSeq;
        TotalPurged += removed;
        // Purged means gone: messages that were on their way to the dead-letter grain are purged too.
        _moves.Clear();
        _movesBytes = 0;
        // The tail stays the head; its messages are below AckedBelow, so reloading it marks them completed.
        var tailWindow = new WindowSegment(Tail.Id, Tail.FirstSeq);
        foreach (var message in Tail.Messages)
        {
            tailWindow.Messages.Add(message);
            tailWindow.Entries.Add(new Entry { State = EntryState.Completed });
            tailWindow.CompletedCount++;
        }

        _window.Add(tailWindow);
        return removed;
    }

    public QueueStats Stats(DateTimeOffset now)
    {
        var oldest = OldestActiveMessage();
        return new QueueStats
        {
            LockedCount = _leases.Count,
            ReadyCount = ReadyCount,
            DelayedCount = _delayedCount,
            InFlightLimitReached = InFlightLimitReached,
            DeadLetteringCount = _moves.Count,
            TotalDeadLettered = TotalDeadLettered,
            TotalEnqueued = NextSeq - 1,
            TotalCompleted = TotalCompleted,
            TotalPurged = TotalPurged,
            OldestMessageAge = oldest is null ? null : now - oldest.EnqueuedAt,
        };
    }

    /// <summary>Active messages of the window from <paramref name="fromSeq"/> on, and whether the window covers that range.</summary>
    public List<QueueMessage> PeekWindow(long fromSeq, int max)
    {
        var result = new List<QueueMessage>();
        foreach (var (seq, parked) in _parked)
        {
            if (seq >= fromSeq && result.Count < max)
            {
                result.Add(ToQueueMessage(parked.Message, parked.Entry.DeliveryCount));
            }
        }

        foreach (var window in _window)
        {
            if (window.NextSeq <= fromSeq)
            {
                continue;
            }

            for (var i = (int)Math.Max(0, fromSeq - window.FirstSeq); i < window.Messages.Count && result.Count < max; i++)
            {
                var entry = window.Entries[i];
                if (entry.State != EntryState.Completed)
                {
                    result.Add(ToQueueMessage(window.Messages[i], entry.DeliveryCount));
                }
            }
        }

        return result;
    }

    public static QueueMessage ToQueueMessage(StoredMessage m, int deliveryCount) => new()
    {
        MessageId = m.Id,
        SequenceNumber = m.Seq,
        Body = m.Body,
        ContentType = m.ContentType,
        Headers = m.Headers,
        EnqueuedTime = m.EnqueuedAt,
        DeliveryCount = deliveryCount,
    };

    // ---------------------------------------------------------------- retention

    /// <summary>Records that <paramref name="written"/> (made by <see cref="ToMeta"/>) is durably stored.</summary>
    public void CursorWritten(QueueMetaState written) => DurableHeadSegment = Math.Max(DurableHeadSegment, written.HeadSegment);

    /// <summary>
    /// The retained segments that may be deleted now, oldest first, contiguous from <see cref="RetainedFrom"/>. Only
    /// below the durable head: a reload from the stored cursor must find every segment from its head on.
    /// </summary>
    public IEnumerable<long> DeletableSegments(DateTimeOffset now)
    {
        var known = _retained.ToDictionary(r => r.Id);
        for (var id = RetainedFrom; id < Math.Min(HeadSegment, DurableHeadSegment); id++)
        {
            if (!known.TryGetValue(id, out var r))
            {
                yield return id; // not in memory (purged before loading): the grain reads it to decide
                yield break;
            }

            var expired = !_limits.DedupEnabled
                || r.LastEnqueuedAt < now - _limits.DedupWindow
                || NextSeq - 1 - r.LastSeq >= _limits.DedupMaxIds;
            if (!expired)
            {
                yield break;
            }

            yield return id;
        }
    }

    public RetainedSegment? GetRetained(long id)
    {
        // Sorted by id: a binary search, as cleanup asks for each segment it deletes.
        int lo = 0, hi = _retained.Count - 1;
        while (lo <= hi)
        {
            var mid = lo + (hi - lo) / 2;
            var found = _retained[mid];
            if (found.Id == id)
            {
                return found;
            }

            (lo, hi) = found.Id < id ? (mid + 1, hi) : (lo, mid - 1);
        }

        return null;
    }

    /// <summary>Records a segment read from storage below the head (its ETag is needed to delete it).</summary>
    public void AddRetained(RetainedSegment segment)
    {
        if (segment.Id >= RetainedFrom && segment.Id < HeadSegment && GetRetained(segment.Id) is null)
        {
            _retained.Add(segment);
            _retained.Sort((a, b) => a.Id.CompareTo(b.Id));
        }
    }

    /// <summary>Records that segment <paramref name="id"/>, the oldest retained, is deleted.</summary>
    public void SegmentDeleted(long id)
    {
        if (id != RetainedFrom)
        {
            throw new InvalidOperationException($"Segment {id} is not the oldest retained ({RetainedFrom}).");
        }

        if (_retained.Count > 0 && _retained[0].Id == id)
        {
            _retained.RemoveAt(0); // the oldest, first in id order: no scan of the list
        }

        RetainedFrom++;
    }

    // ---------------------------------------------------------------- meta

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
            TotalDeadLettered = TotalDeadLettered,
            PendingMoves = [.. _moves.Values],
            Subscriptions = [.. Subscriptions],
            Settings = Settings,
            InFlightPagesFrom = InFlightPagesFrom,
            InFlightPagesTo = InFlightPagesTo,
            Listing = Listing,
        };
        long estimatedBytes = 0;
        foreach (var window in _window)
        {
            for (var i = 0; i < window.Entries.Count; i++)
            {
                var entry = window.Entries[i];
                var seq = window.FirstSeq + i;
                if (entry.State == EntryState.Completed)
                {
                    if (seq >= AckedBelow)
                    {
                        meta.Completed.Add(seq);
                    }
                }
                else if (NeedsRecord(entry, window.Messages[i]))
                {
                    estimatedBytes += RecordBytes(entry, withHistories: true);
                    meta.Deliveries.Add(ToRecord(seq, entry));
                }
            }
        }

        if (estimatedBytes > _limits.CursorBudgetBytes)
        {
            // Bounded whatever happens: keep counts, leases and delays; drop the histories.
            foreach (var record in meta.Deliveries)
            {
                record.Attempts = null;
                record.ErrorMessage = null;
            }
        }

        return meta;
    }

    private static DeliveryRecord ToRecord(long seq, in Entry entry) => new()
    {
        Seq = seq,
        Count = entry.DeliveryCount,
        Token = entry.State == EntryState.Leased ? entry.Token : null,
        LockedUntil = entry.State == EntryState.Leased ? entry.LockedUntil : null,
        NotBefore = entry.State == EntryState.Ready && entry.NotBefore != default ? entry.NotBefore : null,
        Attempts = entry.Attempts?.Select(a => a.ToUnixTimeMilliseconds()).ToList(),
        ErrorType = entry.ErrorType,
        ErrorMessage = entry.ErrorMessage,
        DeferredMove = entry.State == EntryState.Ready ? entry.DeferredMove : null,
        DeferredDescription = entry.State == EntryState.Ready ? entry.DeferredDescription : null,
    };

    // ---------------------------------------------------------------- stragglers: parking and in-flight pages

    /// <summary>
    /// Moves the window past a head segment whose messages are all settled or in flight, when the window is full and
    /// has nothing ready while messages wait behind it in storage: its in-flight messages are parked (copied, with
    /// their delivery state, into in-flight pages that are written before the next cursor write), so no held message
    /// keeps the others from being delivered. Returns whether it parked anything.
    /// </summary>
    public bool TryParkHead(DateTimeOffset now)
    {
        if (_window.Count < _limits.ActiveSegments || LoadedThrough >= Tail.Id || _window[0].Id >= Tail.Id)
        {
            return false;
        }

        ReleaseDelayed(now);
        if (_ready.Count > 0 && !HeadIsHeld(now))
        {
            return false;
        }

        ParkHeadSegment();
        return true;
    }

    /// <summary>
    /// Parks the window's head while it is held (<see cref="HeadIsHeld"/>) and is not the tail: stragglers then cost
    /// one copy in an in-flight page, written once, instead of a delivery record in every cursor write and a place in
    /// the window that new messages need (so these keep being delivered from memory, leased to waiting consumers in
    /// the write that stores them). Returns how many segments it parked.
    /// </summary>
    public int ParkHeldHeads(DateTimeOffset now)
    {
        var parked = 0;
        while (_window.Count > 0 && _window[0].Id < Tail.Id && HeadIsHeld(now))
        {
            ParkHeadSegment();
            parked++;
        }

        return parked;
    }

    /// <summary>
    /// Whether the window's head segment holds only messages that are settled or held past an ordinary delivery: locked
    /// or delayed beyond one lock duration from now, or delivered longer than one lock duration ago. Such a head is parked
    /// as soon as the full window keeps more messages from being loaded, not only once nothing is ready: otherwise the
    /// stragglers would shrink the window for everyone behind them, and new messages would wait their turn in storage.
    /// </summary>
    private bool HeadIsHeld(DateTimeOffset now)
    {
        var horizon = now + LockDuration;
        var head = _window[0];
        for (var i = 0; i < head.Entries.Count; i++)
        {
            var entry = head.Entries[i];
            var held = entry.State switch
            {
                EntryState.Completed => true,
                EntryState.Leased => entry.LockedUntil > horizon || entry.Attempts is { Count: > 0 } attempts && now - attempts[^1] > LockDuration,
                EntryState.Ready => entry.NotBefore > horizon,
                _ => false, // being moved to the dead-letter grain: gone soon
            };
            if (!held)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Keeps the cursor record under its budget whatever is in flight: while the delivery state it would hold is
    /// estimated above <see cref="QueueCoreLimits.CursorBudgetBytes"/>, the window's head segment is parked (its messages not
    /// completed, with their delivery state, move to in-flight pages, which are bounded records of their own).
    /// Returns how many segments it parked.
    /// </summary>
    public int ParkWhileCursorOverBudget()
    {
        var parked = 0;
        while (_window.Count > 1 && _window[0].Id < Tail.Id && EstimateCursorBytes(withHistories: false) > _limits.CursorBudgetBytes)
        {
            ParkHeadSegment();
            parked++;
        }

        return parked;
    }

    /// <summary>
    /// The cursor record's estimated size: its fixed fields, subscriptions, pending moves, the completed sequence
    /// numbers and the delivery records of the window (with or without attempt histories and error messages).
    /// </summary>
    public long EstimateCursorBytes(bool withHistories)
    {
        long bytes = 1024 + 300L * Subscriptions.Count;
        bytes += _movesBytes;

        foreach (var window in _window)
        {
            for (var i = 0; i < window.Entries.Count; i++)
            {
                var entry = window.Entries[i];
                if (entry.State == EntryState.Completed)
                {
                    bytes += window.FirstSeq + i >= AckedBelow ? 12 : 0;
                }
                else if (NeedsRecord(entry, window.Messages[i]))
                {
                    bytes += RecordBytes(entry, withHistories);
                }
            }
        }

        return bytes;
    }

    private static long RecordBytes(in Entry entry, bool withHistories) =>
        200 + 2L * (entry.ErrorType?.Length ?? 0)
        + (withHistories ? 16L * (entry.Attempts?.Count ?? 0) + 2L * (entry.ErrorMessage?.Length ?? 0) : 0);

    /// <summary>Parks the head segment's messages that are not completed and drops it from the window.</summary>
    private void ParkHeadSegment()
    {
        var head = _window[0];
        for (var i = 0; i < head.Entries.Count; i++)
        {
            if (head.Entries[i].State != EntryState.Completed)
            {
                Park(head.Messages[i], head.Entries[i]);
            }
        }

        _window.RemoveAt(0);
        AckedBelow = Math.Max(AckedBelow, head.NextSeq);
        HeadSegment = head.Id + 1;
        _retained.Add(ToRetained(head));
        AdvanceHead();
    }

    private static long ParkedBytes(StoredMessage message) => SegmentSizing.EstimateBytes(message) + ParkedRecordMaxBytes;

    private void Park(StoredMessage message, in Entry entry)
    {
        var bytes = ParkedBytes(message);
        if (!_pages.TryGetValue(InFlightPagesTo - 1, out var page)
            || (page.Seqs.Count > 0 && (page.Seqs.Count >= _limits.SegmentMaxMessages || page.Bytes + bytes > _limits.SegmentMaxBytes)))
        {
            page = new InFlightPage(InFlightPagesTo++);
            _pages[page.Id] = page;
        }

        page.Seqs.Add(message.Seq);
        page.Bytes += bytes;
        page.Version++;
        _parked[message.Seq] = new ParkedEntry(message, page.Id, bytes) { Entry = entry };
    }

    /// <summary>Marks the page of a parked message as changed, so the next cursor write stores it first.</summary>
    private void Touch(long seq)
    {
        if (_parked.TryGetValue(seq, out var parked))
        {
            _pages[parked.Page].Version++;
        }
    }

    /// <summary>Completes a message: a parked one leaves its page, a window one is marked completed.</summary>
    private void MarkCompleted(long seq, ref Entry entry)
    {
        if (_parked.Remove(seq, out var parked))
        {
            var page = _pages[parked.Page];
            page.Seqs.Remove(seq);
            page.Bytes -= parked.Bytes;
            page.Version++;
            return;
        }

        entry.State = EntryState.Completed;
        FindWindow(seq).CompletedCount++;
    }

    /// <summary>The in-flight pages changed since they were last stored, oldest first: written before the cursor.</summary>
    public List<InFlightPageWrite> DirtyPages()
    {
        var writes = new List<InFlightPageWrite>();
        foreach (var page in _pages.Values)
        {
            if (!page.Dirty)
            {
                continue;
            }

            InFlightPageState? state = null;
            if (page.Seqs.Count > 0)
            {
                state = new InFlightPageState();
                foreach (var seq in page.Seqs)
                {
                    var parked = _parked[seq];
                    state.Entries.Add(new ParkedMessage { Message = parked.Message, Delivery = ToRecord(seq, parked.Entry) });
                }
            }

            writes.Add(new InFlightPageWrite(page.Id, page.Version, state, page.ETag));
        }

        return writes;
    }

    /// <summary>
    /// Records that a page from <see cref="DirtyPages"/> is stored (or deleted, with a null state) with
    /// <paramref name="etag"/>; an empty page that did not change since is forgotten.
    /// </summary>
    public void PageWritten(InFlightPageWrite write, string? etag)
    {
        if (!_pages.TryGetValue(write.Id, out var page))
        {
            return;
        }

        page.ETag = etag;
        page.WrittenVersion = Math.Max(page.WrittenVersion, write.Version);
        if (write.State is null && page.Seqs.Count == 0 && !page.Dirty)
        {
            _pages.Remove(write.Id);
            while (InFlightPagesFrom < InFlightPagesTo && !_pages.ContainsKey(InFlightPagesFrom))
            {
                InFlightPagesFrom++;
            }
        }
    }

    // ---------------------------------------------------------------- helpers

    /// <summary>
    /// Whether the entry is still exactly the first lease its segment stored with the message (leased on append, not
    /// renewed, nothing recorded since): then the cursor record need not repeat it, since a reload restores it from the
    /// segment. This keeps the cursor small while many pushed messages are out.
    /// </summary>
    /// <summary>
    /// Whether the cursor needs a delivery record for a message not completed: one delivered (unless its only delivery
    /// is the first lock its segment stored with it), and one whose stored first lock was undone (it is ready again).
    /// </summary>
    private static bool NeedsRecord(in Entry entry, StoredMessage message) =>
        entry.DeliveryCount > 0 ? !IsFirstLeaseAsStored(entry, message) : message.FirstLeaseToken is not null;

    private static bool IsFirstLeaseAsStored(in Entry entry, StoredMessage message) =>
        entry is { State: EntryState.Leased, DeliveryCount: 1, ErrorType: null }
        && message.FirstLeaseToken == entry.Token
        && message.FirstLeasedUntil == entry.LockedUntil;

    private void AdvanceHead()
    {
        while (_window.Count > 0 && _window[0].AllCompleted && _window[0].Id < Tail.Id)
        {
            var head = _window[0];
            _window.RemoveAt(0);
            AckedBelow = Math.Max(AckedBelow, head.NextSeq);
            HeadSegment = head.Id + 1;
            _retained.Add(ToRetained(head));
        }

        if (_window.Count > 0)
        {
            var head = _window[0];
            var i = (int)Math.Max(0, AckedBelow - head.FirstSeq);
            while (i < head.Entries.Count && head.Entries[i].State == EntryState.Completed)
            {
                i++;
            }

            AckedBelow = Math.Max(AckedBelow, head.FirstSeq + i);
        }
    }

    private static RetainedSegment ToRetained(WindowSegment window) =>
        new(window.Id, window.NextSeq - 1, window.Messages.Count > 0 ? window.Messages[^1].EnqueuedAt : DateTimeOffset.MinValue);

    private long CompletedAboveAckedCount()
    {
        long count = 0;
        foreach (var window in _window)
        {
            if (window.NextSeq <= AckedBelow)
            {
                continue;
            }

            for (var i = (int)Math.Max(0, AckedBelow - window.FirstSeq); i < window.Entries.Count; i++)
            {
                if (window.Entries[i].State == EntryState.Completed)
                {
                    count++;
                }
            }
        }

        return count;
    }

    private StoredMessage? OldestActiveMessage()
    {
        foreach (var parked in _parked.Values)
        {
            return parked.Message;
        }

        foreach (var window in _window)
        {
            for (var i = 0; i < window.Entries.Count; i++)
            {
                if (window.Entries[i].State != EntryState.Completed)
                {
                    return window.Messages[i];
                }
            }
        }

        return null;
    }

    /// <summary>The entry of a message in the window or parked, or a null reference when it is neither.</summary>
    private ref Entry TryEntryRef(long seq)
    {
        if (_parked.TryGetValue(seq, out var parked))
        {
            return ref parked.Entry;
        }

        foreach (var window in _window)
        {
            if (seq >= window.FirstSeq && seq < window.NextSeq)
            {
                return ref System.Runtime.InteropServices.CollectionsMarshal.AsSpan(window.Entries)[(int)(seq - window.FirstSeq)];
            }
        }

        return ref System.Runtime.CompilerServices.Unsafe.NullRef<Entry>();
    }

    private WindowSegment FindWindow(long seq)
    {
        foreach (var window in _window)
        {
            if (seq >= window.FirstSeq && seq < window.NextSeq)
            {
                return window;
            }
        }

        throw new InvalidOperationException($"Sequence number {seq} is not in the active window.");
    }

    private ref Entry EntryRef(long seq, out StoredMessage message)
    {
        if ((_window.Count == 0 || seq < _window[0].FirstSeq) && _parked.TryGetValue(seq, out var parked))
        {
            message = parked.Message;
            return ref parked.Entry;
        }

        var window = FindWindow(seq);
        var index = (int)(seq - window.FirstSeq);
        message = window.Messages[index];
        return ref System.Runtime.InteropServices.CollectionsMarshal.AsSpan(window.Entries)[index];
    }

    private static QueueException LockLost(IReadOnlyList<Guid> tokens) =>
        new(QueueErrorCode.MessageLockLost,
            $"The lock on {tokens.Count} message(s) is lost: the lease expired, the message was settled, or the token is from an earlier delivery ({string.Join(", ", tokens.Take(5))}).",
            tokens);
}

/// <summary>The option values the core needs.</summary>
internal sealed record QueueCoreLimits(int SegmentMaxMessages, long SegmentMaxBytes, int ActiveSegments, TimeSpan DedupWindow, int DedupMaxIds,
    int DefaultMaxDeliveryCount = 10)
{
    /// <summary>
    /// An append starts a new chunk record once the tail's last chunk holds this many messages; by default the whole
    /// segment is one chunk.
    /// </summary>
    public int ChunkMaxMessages
    {
        get => _chunkMaxMessages ?? SegmentMaxMessages;
        init => _chunkMaxMessages = value;
    }

    private readonly int? _chunkMaxMessages;

    /// <summary>
    /// A segment that a group commit is already writing may take up to this many times
    /// <see cref="SegmentMaxMessages"/> (never more than <see cref="SegmentMaxBytes"/>), so a commit that crosses the
    /// count needs no second write; a segment that is full before a commit starts takes nothing more. 1: a hard count.
    /// </summary>
    public int SegmentStretch { get; init; } = 1;

    /// <summary>
    /// The queue log's segments: up to <see cref="SegmentMaxMessages"/> (stretched within one commit), stored as chunk
    /// records whatever <see cref="ChunkMaxMessages"/> is, so a segment is always read with every chunk it was given.
    /// </summary>
    public SegmentLimits Segments => new(SegmentMaxMessages, SegmentMaxBytes) { Stretch = SegmentStretch, ChunkMaxEntries = ChunkMaxMessages };

    public TimeSpan DefaultLockDuration { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The cursor record's size budget: above it, attempt histories are left out of it, and window heads are parked
    /// (<see cref="QueueCore.ParkWhileCursorOverBudget"/>). 600 KiB: well within one Azure Table entity (15 × 64 KiB).
    /// </summary>
    public long CursorBudgetBytes { get; init; } = 600 * 1024;

    /// <summary>Most messages in flight (locked, waiting out a redelivery delay, or being dead-lettered) per queue.</summary>
    public int MaxInFlight { get; init; } = 100_000;

    public bool DedupEnabled => DedupWindow > TimeSpan.Zero;
}
