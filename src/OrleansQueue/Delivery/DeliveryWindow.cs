using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using OrleansQueue.DeadLetters;
using OrleansQueue.Internal;
using OrleansQueue.Queues;
using OrleansQueue.Retention;
using OrleansQueue.Storage;

namespace OrleansQueue.Delivery;

/// <summary>
/// The delivery window of one queue: the head segments in memory, up to <see cref="QueueCoreLimits.ActiveSegments"/>,
/// with each message's delivery state (<see cref="DeliveryEntry"/>), and the messages the window moved past that are
/// still in flight (<see cref="InFlightPages"/>). It is one state machine over one set of entries, changed in place by
/// reference, so it is one type in five files: this one (segments, restore, appends, the head),
/// <c>DeliveryWindow.Locks.cs</c> (locks, settlement, expiry, redelivery delays), <c>DeliveryWindow.Moves.cs</c>
/// (moves to the dead-letter grain), <c>DeliveryWindow.Stragglers.cs</c> (parking held heads) and
/// <c>DeliveryWindow.Browse.cs</c> (purge, counts, peek). It does no I/O.
/// </summary>
internal sealed partial class DeliveryWindow
{
    private readonly QueueCoreLimits _limits;
    private readonly DeliverySettings _settings;
    private readonly SegmentRetention _retention;
    private readonly PendingMoves _moves;
    private readonly InFlightPages _parked;
    private readonly TextInterner _texts = new();
    private readonly List<WindowSegment> _segments = [];
    private readonly SortedSet<long> _ready = [];
    private HashSet<long>? _restoreCompleted;
    private Dictionary<long, DeliveryRecord>? _restoreRecords;

    public DeliveryWindow(QueueCoreLimits limits, DeliverySettings settings, SegmentRetention retention, PendingMoves moves, SegmentSnapshot tail, QueueMetaState meta)
    {
        _limits = limits;
        _settings = settings;
        _retention = retention;
        _moves = moves;
        _parked = new InFlightPages(meta.InFlightPagesFrom, meta.InFlightPagesTo, limits.SegmentMaxMessages, limits.SegmentMaxBytes);
        Tail = tail;
        HeadSegment = meta.HeadSegment;
        AckedBelow = meta.AckedBelow;
        TotalCompleted = meta.TotalCompleted;
        TotalPurged = meta.TotalPurged;
        TotalDropped = meta.TotalDropped;
        TotalExpired = meta.TotalExpired;
        LengthBytes = meta.LengthBytes;
        LengthBytesFromSeq = Math.Max(1, meta.LengthBytesFromSeq);
        TotalDeadLettered = meta.TotalDeadLettered;
        _restoreCompleted = [.. meta.Completed];
        _restoreRecords = meta.Deliveries.ToDictionary(d => d.Seq);
    }

    /// <summary>The newest segment, as durably stored.</summary>
    public SegmentSnapshot Tail { get; set; }

    public long HeadSegment { get; private set; }

    public long AckedBelow { get; private set; }

    public long TotalCompleted { get; private set; }

    public long TotalPurged { get; private set; }

    /// <summary>Messages dropped to make room for newer ones.</summary>
    public long TotalDropped { get; private set; }

    /// <summary>Messages whose time-to-live ran out and that were dropped.</summary>
    public long TotalExpired { get; private set; }

    /// <summary>Body bytes of the messages held: not completed, purged, dropped, or on their way to the dead-letter grain.</summary>
    public long LengthBytes { get; private set; }

    /// <summary>Counts stored messages' bodies in <see cref="LengthBytes"/> (new ones, or ones stored after the cursor, found at loading).</summary>
    public void AddLengthBytes(long bytes) => LengthBytes += bytes;

    /// <summary>The first sequence number <see cref="LengthBytes"/> counts (see <see cref="QueueMetaState.LengthBytesFromSeq"/>).</summary>
    public long LengthBytesFromSeq { get; }

    /// <summary>The part of <see cref="LengthBytes"/> held by parked messages.</summary>
    public long ParkedLengthBytes()
    {
        long bytes = 0;
        foreach (var parked in _parked.Parked)
        {
            if (parked.Entry.State != DeliveryState.Moving && parked.Message.Seq >= LengthBytesFromSeq)
            {
                bytes += parked.Message.Body.Length;
            }
        }

        return bytes;
    }

    /// <summary>After the in-flight pages are restored: their parked bodies replace what the cursor counted for parked messages.</summary>
    public void RecountParked(long cursorParkedBytes) => LengthBytes += ParkedLengthBytes() - cursorParkedBytes;

    /// <summary>A message leaves the length (completed, dropped, or starting its move to the dead-letter grain).</summary>
    private void LeavesLength(StoredMessage message)
    {
        if (message.Seq >= LengthBytesFromSeq)
        {
            LengthBytes -= message.Body.Length;
        }
    }

    public long TotalDeadLettered { get; private set; }

    /// <summary>The segments in the window, head first.</summary>
    public IReadOnlyList<WindowSegment> Segments => _segments;

    /// <summary>The stragglers: messages in flight that the window moved past.</summary>
    public InFlightPages Parked => _parked;

    public int ReadyCount => _ready.Count;

    /// <summary>Id of the last segment in the window (head - 1 when the window is empty).</summary>
    public long LoadedThrough => _segments.Count > 0 ? _segments[^1].Id : HeadSegment - 1;

    /// <summary>The sequence number after the last message in the window.</summary>
    public long NextSeqLoaded => _segments.Count > 0 ? _segments[^1].NextSeq : AckedBelow;

    /// <summary>Whether the window takes another segment (<see cref="QueueCoreLimits.WindowTakesMore"/>).</summary>
    /// <remarks>Below <see cref="QueueCoreLimits.ActiveSegments"/> segments it does without summing them: the common case, asked on every append.</remarks>
    private bool HasRoom => _segments.Count < _limits.ActiveSegments || _limits.WindowTakesMore(_segments.Count, WindowMessages, WindowBytes);

    /// <summary>Messages in the window, settled or not.</summary>
    public long WindowMessages => _segments.Sum(static s => (long)s.Messages.Count);

    /// <summary>The estimated stored size of the window's messages, settled or not.</summary>
    public long WindowBytes => _segments.Sum(static s => s.Bytes);

    /// <summary>The next segment to load into the window, or null when the window is full or has everything.</summary>
    public long? NextSegmentToLoad =>
        HasRoom && LoadedThrough < Tail.Id ? LoadedThrough + 1 : null;

    /// <summary>
    /// The tail is loaded (so every older message is in the window, with its stored first lock restored), or it is
    /// empty and joins the window next. Otherwise older messages wait outside the window and must go first.
    /// </summary>
    public bool HoldsWholeQueue =>
        (_segments.Count > 0 && _segments[^1].Id == Tail.Id)
        || (Tail.Messages.Count == 0 && Tail.Id == LoadedThrough + 1 && HasRoom);

    /// <summary>Whether a segment written now would join the window: the window's last one, or the next while there is room.</summary>
    public bool Takes(long segmentId) =>
        (_segments.Count > 0 && _segments[^1].Id == segmentId)
        || (segmentId == LoadedThrough + 1 && HasRoom);

    // ---------------------------------------------------------------- restore

    /// <summary>Adds the next segment to the window, restoring the delivery state that the stored cursor record holds for it.</summary>
    public void AddSegment(long id, SegmentState segment, DateTimeOffset now)
    {
        if (id != LoadedThrough + 1)
        {
            throw new InvalidOperationException($"Segment {id} is not next after {LoadedThrough}.");
        }

        var window = new WindowSegment(id, segment.FirstSequence);
        _segments.Add(window);
        var completed = _restoreCompleted;
        var records = _restoreRecords;
        foreach (var message in segment.Messages)
        {
            window.Add(message);
            var entry = new DeliveryEntry();
            if (message.Seq < AckedBelow || completed?.Contains(message.Seq) == true)
            {
                entry.State = DeliveryState.Completed;
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

    /// <summary>Restores one in-flight page read at activation, before the window is loaded (see <see cref="InFlightPages.Restore"/>).</summary>
    public void RestorePage(long id, InFlightPageState? state, string? etag, DateTimeOffset now) =>
        _parked.Restore(id, state, etag, AckedBelow, (message, record) => RestoreEntry(message, record, now));

    /// <summary>Drops the restore index once activation has loaded the window.</summary>
    public void EndRestore()
    {
        _restoreCompleted = null;
        _restoreRecords = null;
    }

    /// <summary>
    /// The delivery state of a message not completed, from its stored record (or the first lock its segment stored
    /// with it): locked while its lock holds, moving when a move is stored for it, else ready (perhaps delayed).
    /// </summary>
    private DeliveryEntry RestoreEntry(StoredMessage message, DeliveryRecord? record, DateTimeOffset now)
    {
        var entry = new DeliveryEntry();
        if (record is not null)
        {
            entry.DeliveryCount = record.Count;
            entry.NotBefore = record.NotBefore ?? default;
            entry.Attempts = record.Attempts?.Select(DateTimeOffset.FromUnixTimeMilliseconds).ToList();
            entry.ErrorType = record.ErrorType;
            entry.ErrorMessage = record.ErrorMessage;
            if (record.DeferredMove is { } deferred && !_moves.Contains(message.Seq))
            {
                entry.DeferredMove = deferred;
                entry.DeferredDescription = record.DeferredDescription;
                _moves.Defer(message.Seq);
            }

            if (_moves.Contains(message.Seq))
            {
                entry.State = DeliveryState.Moving;
            }
            else if (record.Token is { } token && record.LockedUntil is { } until && until > now)
            {
                Relock(ref entry, message.Seq, token, until);
            }
        }
        else if (_moves.Contains(message.Seq))
        {
            entry.State = DeliveryState.Moving;
        }
        else if (message.FirstLeaseToken is { } token && message.FirstLeasedUntil is { } until)
        {
            // Locked in the write that stored it, and the cursor record has not recorded it since.
            entry.DeliveryCount = 1;
            entry.Attempts = [message.EnqueuedAt];
            if (until > now)
            {
                Relock(ref entry, message.Seq, token, until);
            }
        }

        if (entry.State == DeliveryState.Ready)
        {
            MakeReady(message.Seq, entry.NotBefore, now);
        }

        return entry;
    }

    // ---------------------------------------------------------------- appends

    /// <summary>
    /// Adds the messages a durable segment write stored to the window, if that segment joins it; returns the locks of
    /// those stored already locked, in sequence order. New messages become deliverable only now that they are durable.
    /// </summary>
    public List<Lease> Append(SegmentSnapshot written, IEnumerable<StoredMessage> added)
    {
        var leases = new List<Lease>();
        if (_segments.Count > 0 && _segments[^1].Id == written.Id)
        {
            AppendTo(_segments[^1], added, leases);
        }
        else if (written.Id == LoadedThrough + 1 && HasRoom)
        {
            var window = new WindowSegment(written.Id, written.FirstSeq);
            _segments.Add(window);
            AppendTo(window, written.Messages, leases);
        }

        AdvanceHead();
        return leases;
    }

    private void AppendTo(WindowSegment window, IEnumerable<StoredMessage> messages, List<Lease> leases)
    {
        foreach (var message in messages)
        {
            window.Add(message);
            if (message.FirstLeaseToken is { } token && message.FirstLeasedUntil is { } until)
            {
                window.Entries.Add(new DeliveryEntry
                {
                    State = DeliveryState.Locked, DeliveryCount = 1, Token = token, LockedUntil = until, Attempts = [message.EnqueuedAt],
                });
                _locks[token] = message.Seq;
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

    // ---------------------------------------------------------------- the head and the entries

    /// <summary>Drops fully completed head segments (they become retained) and moves the watermark past completed messages.</summary>
    private void AdvanceHead()
    {
        while (_segments.Count > 0 && _segments[0].AllCompleted && _segments[0].Id < Tail.Id)
        {
            var head = _segments[0];
            _segments.RemoveAt(0);
            AckedBelow = Math.Max(AckedBelow, head.NextSeq);
            HeadSegment = head.Id + 1;
            _retention.Retain(ToRetained(head));
        }

        if (_segments.Count > 0)
        {
            var head = _segments[0];
            var i = (int)Math.Max(0, AckedBelow - head.FirstSeq);
            while (i < head.Entries.Count && head.Entries[i].State == DeliveryState.Completed)
            {
                i++;
            }

            AckedBelow = Math.Max(AckedBelow, head.FirstSeq + i);
        }
    }

    private static RetainedSegment ToRetained(WindowSegment window) =>
        new(window.Id, window.NextSeq - 1, window.Messages.Count > 0 ? window.Messages[^1].EnqueuedAt : DateTimeOffset.MinValue);

    /// <summary>Completes a message: a parked one leaves its page, a window one is marked completed.</summary>
    private void MarkCompleted(long seq, ref DeliveryEntry entry, StoredMessage message)
    {
        if (entry.State != DeliveryState.Moving)
        {
            LeavesLength(message); // a moving message left it when its move began
        }

        if (_parked.Remove(seq))
        {
            return;
        }

        entry.State = DeliveryState.Completed;
        FindSegment(seq).CompletedCount++;
    }

    /// <summary>The entry of a message in the window or parked, or a null reference when it is neither.</summary>
    private ref DeliveryEntry TryEntryRef(long seq)
    {
        if (_parked.TryGet(seq, out var parked))
        {
            return ref parked.Entry;
        }

        foreach (var window in _segments)
        {
            if (seq >= window.FirstSeq && seq < window.NextSeq)
            {
                return ref CollectionsMarshal.AsSpan(window.Entries)[(int)(seq - window.FirstSeq)];
            }
        }

        return ref Unsafe.NullRef<DeliveryEntry>();
    }

    private WindowSegment FindSegment(long seq)
    {
        foreach (var window in _segments)
        {
            if (seq >= window.FirstSeq && seq < window.NextSeq)
            {
                return window;
            }
        }

        throw new InvalidOperationException($"Sequence number {seq} is not in the active window.");
    }

    private ref DeliveryEntry EntryRef(long seq, out StoredMessage message)
    {
        if ((_segments.Count == 0 || seq < _segments[0].FirstSeq) && _parked.TryGet(seq, out var parked))
        {
            message = parked.Message;
            return ref parked.Entry;
        }

        var window = FindSegment(seq);
        var index = (int)(seq - window.FirstSeq);
        message = window.Messages[index];
        return ref CollectionsMarshal.AsSpan(window.Entries)[index];
    }
}
