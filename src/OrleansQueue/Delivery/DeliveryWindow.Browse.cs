using OrleansQueue.Storage;

namespace OrleansQueue.Delivery;

/// <summary>The delivery window's purge, overflow drops, counts and browsing.</summary>
internal sealed partial class DeliveryWindow
{
    /// <summary>Marks every message completed-by-purge; returns how many were removed.</summary>
    public long Purge(long activeCount)
    {
        var removed = activeCount;
        _ready.Clear();
        _locks.Clear();
        _expiries.Clear();
        _delayed.Clear();
        _delayedCount = 0;
        _parked.Clear();
        foreach (var window in _segments)
        {
            if (window.Id != Tail.Id)
            {
                _retention.Retain(ToRetained(window));
            }
        }

        _segments.Clear();
        HeadSegment = Tail.Id;
        AckedBelow = Tail.NextSeq;
        TotalPurged += removed;
        LengthBytes = 0;
        // Purged means gone: messages that were on their way to the dead-letter grain are purged too.
        _moves.Clear();
        // The tail stays the head; its messages are below AckedBelow, so reloading it marks them completed.
        var tailWindow = new WindowSegment(Tail.Id, Tail.FirstSeq);
        foreach (var message in Tail.Messages)
        {
            tailWindow.Add(message);
            tailWindow.Entries.Add(new DeliveryEntry { State = DeliveryState.Completed });
            tailWindow.CompletedCount++;
        }

        _segments.Add(tailWindow);
        return removed;
    }

    private const string OverflowDescription = "The queue was at its maximum length; a newer message took its place.";

    /// <summary>
    /// Removes the oldest ready messages of the window, in sequence order, until it took <paramref name="count"/> of
    /// them and their bodies add up to <paramref name="bytes"/> (or none is left), to make room for newer ones: each is
    /// dropped (completed, counted in <see cref="TotalDropped"/>) or, with <paramref name="deadLetter"/>, starts its
    /// move to the dead-letter grain, while the pending moves have room (none is deferred). Returns how many it took.
    /// </summary>
    public int DropOldest(long count, long bytes, bool deadLetter, DateTimeOffset now)
    {
        var taken = 0;
        long freed = 0;
        while ((taken < count || freed < bytes) && _ready.Count > 0 && (!deadLetter || _moves.HasRoomFor(OverflowDescription)))
        {
            var seq = _ready.Min;
            _ready.Remove(seq);
            _parked.Touch(seq);
            ref var entry = ref EntryRef(seq, out var message);
            freed += message.Body.Length;
            if (deadLetter)
            {
                BeginMove(seq, ref entry, DeadLetterReason.MaxLengthExceeded, OverflowDescription, now);
            }
            else
            {
                MarkCompleted(seq, ref entry, message);
                TotalDropped++;
            }

            taken++;
        }

        AdvanceHead();
        return taken;
    }

    /// <summary>Whether a message of the window, or a parked one, has a time-to-live.</summary>
    public bool AnyExpiring() =>
        _segments.Exists(w => w.Messages.Exists(m => m.ExpiresAt is not null)) || _parked.Parked.Any(p => p.Message.ExpiresAt is not null);

    /// <summary>Whether the oldest ready messages of the window, <paramref name="count"/> or more of them, have bodies of <paramref name="bytes"/> or more together.</summary>
    public bool ReadyCovers(long count, long bytes)
    {
        if (_ready.Count < count)
        {
            return false;
        }

        long sum = 0;
        foreach (var seq in _ready)
        {
            if (sum >= bytes)
            {
                return true;
            }

            EntryRef(seq, out var message);
            sum += message.Body.Length;
        }

        return sum >= bytes;
    }

    /// <summary>Messages of the window above the watermark that are completed (the watermark waits for the oldest).</summary>
    public long CompletedAboveAckedCount()
    {
        long count = 0;
        foreach (var window in _segments)
        {
            if (window.NextSeq <= AckedBelow)
            {
                continue;
            }

            for (var i = (int)Math.Max(0, AckedBelow - window.FirstSeq); i < window.Entries.Count; i++)
            {
                if (window.Entries[i].State == DeliveryState.Completed)
                {
                    count++;
                }
            }
        }

        return count;
    }

    /// <summary>The oldest message neither completed nor purged: parked first, then the window's.</summary>
    public StoredMessage? OldestActiveMessage()
    {
        foreach (var parked in _parked.Parked)
        {
            return parked.Message;
        }

        foreach (var window in _segments)
        {
            for (var i = 0; i < window.Entries.Count; i++)
            {
                if (window.Entries[i].State != DeliveryState.Completed)
                {
                    return window.Messages[i];
                }
            }
        }

        return null;
    }

    /// <summary>Active messages of the window (parked ones first) from <paramref name="fromSeq"/> on, at most <paramref name="max"/>.</summary>
    public List<QueueMessage> Peek(long fromSeq, int max)
    {
        var result = new List<QueueMessage>();
        foreach (var parked in _parked.Parked)
        {
            if (parked.Message.Seq >= fromSeq && result.Count < max)
            {
                result.Add(MessageViews.ToQueueMessage(parked.Message, parked.Entry.DeliveryCount));
            }
        }

        foreach (var window in _segments)
        {
            if (window.NextSeq <= fromSeq)
            {
                continue;
            }

            for (var i = (int)Math.Max(0, fromSeq - window.FirstSeq); i < window.Messages.Count && result.Count < max; i++)
            {
                var entry = window.Entries[i];
                if (entry.State != DeliveryState.Completed)
                {
                    result.Add(MessageViews.ToQueueMessage(window.Messages[i], entry.DeliveryCount));
                }
            }
        }

        return result;
    }
}
