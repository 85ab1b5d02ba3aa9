namespace OrleansQueue.Delivery;

/// <summary>
/// The delivery window's stragglers: moving the window past a head segment whose messages are held (locked or
/// delayed well beyond an ordinary delivery), parking them in <see cref="InFlightPages"/>, so no held message keeps
/// the others from being delivered.
/// </summary>
internal sealed partial class DeliveryWindow
{
    /// <summary>
    /// Moves the window past a head segment whose messages are all settled or in flight, when the window is full and
    /// has nothing ready while messages wait behind it in storage: its in-flight messages are parked (copied, with
    /// their delivery state, into in-flight pages that are written before the next cursor write), so no held message
    /// keeps the others from being delivered. Returns whether it parked anything.
    /// </summary>
    public bool TryParkHead(DateTimeOffset now)
    {
        if (HasRoom || LoadedThrough >= Tail.Id || _segments[0].Id >= Tail.Id)
        {
            return false;
        }

        ReleaseDelayed(now);
        if (_ready.Count > 0 && !HeadIsHeld(now))
        {
            return false;
        }

        ParkHead();
        return true;
    }

    /// <summary>
    /// Parks the window's head while it is held (<see cref="HeadIsHeld"/>) and is not the tail: stragglers then cost
    /// one copy in an in-flight page, written once, instead of a delivery record in every cursor write and a place in
    /// the window that new messages need (so these keep being delivered from memory, locked for waiting consumers in
    /// the write that stores them). Returns how many segments it parked.
    /// </summary>
    public int ParkHeldHeads(DateTimeOffset now)
    {
        var parked = 0;
        while (_segments.Count > 0 && _segments[0].Id < Tail.Id && HeadIsHeld(now))
        {
            ParkHead();
            parked++;
        }

        return parked;
    }

    /// <summary>Whether the head may be parked to make the cursor smaller: the window keeps at least one segment, and the tail.</summary>
    public bool CanParkHeadForCursor => _segments.Count > 1 && _segments[0].Id < Tail.Id;

    /// <summary>Parks the head segment's messages that are not completed and drops it from the window.</summary>
    public void ParkHead()
    {
        var head = _segments[0];
        for (var i = 0; i < head.Entries.Count; i++)
        {
            if (head.Entries[i].State != DeliveryState.Completed)
            {
                _parked.Park(head.Messages[i], head.Entries[i]);
            }
        }

        _segments.RemoveAt(0);
        AckedBelow = Math.Max(AckedBelow, head.NextSeq);
        HeadSegment = head.Id + 1;
        _retention.Retain(ToRetained(head));
        AdvanceHead();
    }

    /// <summary>
    /// Whether the window's head segment holds only messages that are settled or held past an ordinary delivery: locked
    /// or delayed beyond one lock duration from now, or delivered longer than one lock duration ago. Such a head is parked
    /// as soon as the full window keeps more messages from being loaded, not only once nothing is ready: otherwise the
    /// stragglers would shrink the window for everyone behind them, and new messages would wait their turn in storage.
    /// </summary>
    private bool HeadIsHeld(DateTimeOffset now)
    {
        var lockDuration = _settings.LockDuration;
        var horizon = now + lockDuration;
        var head = _segments[0];
        for (var i = 0; i < head.Entries.Count; i++)
        {
            var entry = head.Entries[i];
            var held = entry.State switch
            {
                DeliveryState.Completed => true,
                DeliveryState.Locked => entry.LockedUntil > horizon || entry.Attempts is { Count: > 0 } attempts && now - attempts[^1] > lockDuration,
                DeliveryState.Ready => entry.NotBefore > horizon,
                _ => false, // being moved to the dead-letter grain: gone soon
            };
            if (!held)
            {
                return false;
            }
        }

        return true;
    }
}
