using System.Runtime.CompilerServices;
using OrleansQueue.Storage;

namespace OrleansQueue.Delivery;

/// <summary>The delivery window's locks: delivering, settling, renewing, expiring, and redelivery delays.</summary>
internal sealed partial class DeliveryWindow
{
    private readonly Dictionary<Guid, long> _locks = [];
    private readonly PriorityQueue<Guid, DateTimeOffset> _expiries = new();
    private readonly PriorityQueue<long, DateTimeOffset> _delayed = new();
    private readonly Random _random = new();
    private int _delayedCount;

    /// <summary>Messages locked.</summary>
    public int LockedCount => _locks.Count;

    /// <summary>Messages waiting out a redelivery delay (or a move deferral).</summary>
    public int DelayedCount => _delayedCount;

    /// <summary>Messages in flight: locked, waiting out a redelivery delay, or on their way to the dead-letter grain.</summary>
    public int InFlightCount => _locks.Count + _delayedCount + _moves.Count;

    /// <summary>Locks up to <paramref name="max"/> ready messages in sequence order, within the in-flight limit.</summary>
    public List<Lease> Lock(int max, TimeSpan duration, DateTimeOffset now)
    {
        ReleaseDelayed(now);
        max = Math.Min(max, Math.Max(0, _limits.MaxInFlight - InFlightCount));
        var leases = new List<Lease>(Math.Min(max, _ready.Count));
        // The in-flight count is checked as it grows: expiries that dead-letter add moves to it.
        while (leases.Count < max && _ready.Count > 0 && InFlightCount < _limits.MaxInFlight)
        {
            var seq = _ready.Min;
            _ready.Remove(seq);
            _parked.Touch(seq);
            ref var entry = ref EntryRef(seq, out var message);
            if (message.ExpiresAt <= now)
            {
                Expire(seq, ref entry, message, now);
                continue;
            }

            entry.State = DeliveryState.Locked;
            entry.DeliveryCount++;
            entry.NotBefore = default;
            (entry.Attempts ??= []).Add(now);
            if (entry.Attempts.Count > DeliveryEntry.MaxAttemptsKept)
            {
                entry.Attempts.RemoveAt(0);
            }

            entry.Token = RandomIds.NewGuid();
            entry.LockedUntil = now + duration;
            _locks[entry.Token] = seq;
            _expiries.Enqueue(entry.Token, entry.LockedUntil);
            leases.Add(new Lease(message, entry.DeliveryCount, entry.Token, entry.LockedUntil));
        }

        AdvanceHead();
        return leases;
    }

    private const string ExpiredDescription = "Its time-to-live ran out before it was delivered.";

    /// <summary>
    /// Expires the window's ready messages whose time-to-live ran out at <paramref name="now"/>: each is dropped
    /// (completed, counted in <see cref="TotalExpired"/>) or, when the queue dead-letters on expiration, starts its move
    /// to the dead-letter grain (deferred, out of the ready set, while the pending moves have no room). Returns how many of each.
    /// </summary>
    public (int Dropped, int DeadLettered) ExpireReady(DateTimeOffset now)
    {
        var (dropped, deadLettered) = (0, 0);
        List<long>? expired = null;
        foreach (var seq in _ready)
        {
            EntryRef(seq, out var message);
            if (message.ExpiresAt <= now)
            {
                (expired ??= []).Add(seq);
            }
        }

        foreach (var seq in expired ?? [])
        {
            ref var entry = ref EntryRef(seq, out var message);
            _ready.Remove(seq);
            _parked.Touch(seq);
            Expire(seq, ref entry, message, now);
            _ = _settings.DeadLetterOnMessageExpiration ? deadLettered++ : dropped++;
        }

        AdvanceHead();
        return (dropped, deadLettered);
    }

    /// <summary>Drops an expired message (taken out of the ready set) or starts its move (deferred while the moves have no room).</summary>
    private void Expire(long seq, ref DeliveryEntry entry, StoredMessage message, DateTimeOffset now)
    {
        if (_settings.DeadLetterOnMessageExpiration)
        {
            BeginMove(seq, ref entry, DeadLetterReason.TimeToLiveExpired, ExpiredDescription, now);
            return;
        }

        MarkCompleted(seq, ref entry, message);
        TotalExpired++;
    }

    /// <summary>
    /// Completes all the locked messages, or throws <see cref="QueueException"/> and changes nothing if any token is
    /// unknown; returns the completed messages with their delivery counts.
    /// </summary>
    public List<(StoredMessage Message, int DeliveryCount)> Complete(IReadOnlyList<Guid> tokens)
    {
        var lost = tokens.Where(t => !_locks.ContainsKey(t)).Distinct().ToList();
        if (lost.Count > 0)
        {
            throw LockLost(lost);
        }

        var completed = new List<(StoredMessage, int)>(tokens.Count);
        foreach (var token in tokens.Distinct())
        {
            var seq = _locks[token];
            _locks.Remove(token);
            ref var entry = ref EntryRef(seq, out var message);
            completed.Add((message, entry.DeliveryCount));
            entry.Token = Guid.Empty;
            MarkCompleted(seq, ref entry, message);
            TotalCompleted++;
        }

        AdvanceHead();
        return completed;
    }

    /// <summary>
    /// Ends the lock as a failed delivery: the message is ready again after the redelivery policy's delay, or, past
    /// the queue's maximum delivery count (or for a fail-fast <paramref name="errorType"/>), starts its move to the
    /// dead-letter grain. <paramref name="immediate"/> skips the delay (the consumer never got to handle it).
    /// </summary>
    public void Abandon(Guid token, DateTimeOffset now, string? errorType = null, string? errorMessage = null, bool immediate = false)
    {
        if (!_locks.Remove(token, out var seq))
        {
            throw LockLost([token]);
        }

        ReleaseFailed(seq, now, errorType, errorMessage, immediate);
    }

    /// <summary>Extends the lock to <paramref name="now"/> + <paramref name="duration"/>.</summary>
    public DateTimeOffset Renew(Guid token, TimeSpan duration, DateTimeOffset now)
    {
        if (!_locks.TryGetValue(token, out var seq))
        {
            throw LockLost([token]);
        }

        _parked.Touch(seq);
        ref var entry = ref EntryRef(seq, out _);
        entry.LockedUntil = now + duration;
        _expiries.Enqueue(token, entry.LockedUntil);
        return entry.LockedUntil;
    }

    public bool IsLocked(Guid token) => _locks.ContainsKey(token);

    /// <summary>
    /// Undoes a delivery nobody got (its receive was cancelled): the message is ready at once, with the delivery
    /// count and attempts it had before. False when the token no longer locks anything.
    /// </summary>
    public bool Unlock(Guid token, DateTimeOffset now)
    {
        if (!_locks.Remove(token, out var seq))
        {
            return false;
        }

        _parked.Touch(seq);
        ref var entry = ref EntryRef(seq, out _);
        entry.State = DeliveryState.Ready;
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

    /// <summary>The end of the lock, or null when the token does not lock anything.</summary>
    public DateTimeOffset? LockedUntil(Guid token) =>
        _locks.TryGetValue(token, out var seq) ? EntryRef(seq, out _).LockedUntil : null;

    /// <summary>Makes every message whose lock ended by <paramref name="now"/> ready again; returns how many.</summary>
    public int ExpireLocks(DateTimeOffset now)
    {
        var expired = 0;
        while (_expiries.TryPeek(out var token, out var due) && due <= now)
        {
            _expiries.Dequeue();
            if (!_locks.TryGetValue(token, out var seq))
            {
                continue; // settled already
            }

            ref var entry = ref EntryRef(seq, out _);
            if (entry.LockedUntil > now)
            {
                continue; // renewed: a later expiry is queued
            }

            _locks.Remove(token);
            ReleaseFailed(seq, now, null, null, immediate: false);
            expired++;
        }

        return expired;
    }

    /// <summary>When the next lock ends or delayed message becomes ready, or null when neither is waiting.</summary>
    public DateTimeOffset? NextWakeUp()
    {
        var expiry = NextExpiry();
        if (_delayed.TryPeek(out _, out var due) && (expiry is null || due < expiry))
        {
            return due;
        }

        return expiry;
    }

    /// <summary>When the earliest open lock ends, or null when none is open.</summary>
    public DateTimeOffset? NextExpiry()
    {
        while (_expiries.TryPeek(out var token, out var due))
        {
            if (_locks.TryGetValue(token, out var seq) && EntryRef(seq, out _).LockedUntil == due)
            {
                return due;
            }

            _expiries.Dequeue(); // stale: settled or renewed
        }

        return null;
    }

    /// <summary>Moves delayed messages whose time has come into the ready set (or, for a deferred move, on to the dead-letter grain).</summary>
    public void ReleaseDelayed(DateTimeOffset now)
    {
        while (_delayed.TryPeek(out var seq, out var due) && due <= now)
        {
            _delayed.Dequeue();
            ref var entry = ref TryEntryRef(seq);
            if (!Unsafe.IsNullRef(ref entry) && entry is { State: DeliveryState.Ready } && entry.NotBefore == due)
            {
                _delayedCount--;
                if (entry.DeferredMove is { } reason)
                {
                    _parked.Touch(seq);
                    BeginMove(seq, ref entry, reason, entry.DeferredDescription, now);
                }
                else if (entry.DeliveryCount >= _settings.MaxDeliveryCount)
                {
                    // A deferred move read back after a reload (the deferral is not stored).
                    _parked.Touch(seq);
                    BeginMove(seq, ref entry, DeadLetterReason.MaxDeliveriesExceeded, MaxDeliveriesText(entry.DeliveryCount), now);
                }
                else
                {
                    _ready.Add(seq);
                }
            }
        }
    }

    private void ReleaseFailed(long seq, DateTimeOffset now, string? errorType, string? errorMessage, bool immediate)
    {
        _parked.Touch(seq);
        ref var entry = ref EntryRef(seq, out _);
        entry.Token = Guid.Empty;
        RecordError(ref entry, errorType, errorMessage);
        if (_settings.IsFailFast(errorType))
        {
            BeginMove(seq, ref entry, DeadLetterReason.FailFast, $"The handler threw {errorType}, which this queue lists as fail-fast.", now);
        }
        else if (entry.DeliveryCount >= _settings.MaxDeliveryCount)
        {
            BeginMove(seq, ref entry, DeadLetterReason.MaxDeliveriesExceeded, MaxDeliveriesText(entry.DeliveryCount), now);
        }
        else
        {
            entry.State = DeliveryState.Ready;
            entry.NotBefore = immediate ? default : now + _settings.Redelivery.DelayAfter(entry.DeliveryCount, _random.NextDouble());
            MakeReady(seq, entry.NotBefore, now);
        }
    }

    private string MaxDeliveriesText(int deliveryCount) =>
        $"Delivered {deliveryCount} times without being completed (the queue's maximum is {_settings.MaxDeliveryCount}).";

    private void RecordError(ref DeliveryEntry entry, string? errorType, string? errorMessage)
    {
        if (errorType is not null)
        {
            entry.ErrorType = _texts.Intern(errorType is { Length: > DeliveryEntry.MaxErrorLength } ? errorType[..DeliveryEntry.MaxErrorLength] : errorType);
            entry.ErrorMessage = _texts.Intern(errorMessage is { Length: > DeliveryEntry.MaxErrorLength } ? errorMessage[..DeliveryEntry.MaxErrorLength] : errorMessage);
        }
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

    private void Relock(ref DeliveryEntry entry, long seq, Guid token, DateTimeOffset until)
    {
        entry.State = DeliveryState.Locked;
        entry.Token = token;
        entry.LockedUntil = until;
        _locks[token] = seq;
        _expiries.Enqueue(token, until);
    }

    private static QueueException LockLost(IReadOnlyList<Guid> tokens) =>
        new(QueueErrorCode.MessageLockLost,
            $"The lock on {tokens.Count} message(s) is lost: the lease expired, the message was settled, or the token is from an earlier delivery ({string.Join(", ", tokens.Take(5))}).",
            tokens);
}
