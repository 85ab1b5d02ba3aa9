namespace OrleansQueue.Queues;

/// <summary>
/// The lock tokens of the last receives, by receive id, so a caller that cancelled just as its receive returned can
/// have those locks released (<see cref="IQueueGrain.ReleaseReceive"/>), and the ids released before their receive
/// returned (the release overtook it), so that receive releases what it took. Bounded: at most
/// <see cref="Capacity"/> ids, each kept for <see cref="Lifetime"/>.
/// </summary>
internal sealed class RecentReceives
{
    public const int Capacity = 1024;

    public static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(2);

    private readonly Dictionary<Guid, (Guid[]? Tokens, DateTimeOffset At)> _byId = [];
    private readonly Queue<(Guid Id, DateTimeOffset At)> _order = new();

    /// <summary>
    /// Records what a receive locked; false when its id was released already (the caller gave up before it returned):
    /// then the caller must release the locks itself.
    /// </summary>
    public bool Remember(Guid receiveId, ReceivedMessage[] received, DateTimeOffset now)
    {
        Trim(now);
        if (receiveId == Guid.Empty)
        {
            return true;
        }

        if (_byId.TryGetValue(receiveId, out var known) && known.Tokens is null)
        {
            _byId.Remove(receiveId);
            return false;
        }

        if (received.Length > 0)
        {
            Add(receiveId, Array.ConvertAll(received, r => r.LockToken), now);
        }

        return true;
    }

    /// <summary>
    /// The tokens of the receive, once: a second call gets null. An id not seen yet is remembered as released, so its
    /// receive, when it returns, gives back what it took.
    /// </summary>
    public Guid[]? Take(Guid receiveId, DateTimeOffset now)
    {
        Trim(now);
        if (_byId.Remove(receiveId, out var entry))
        {
            return entry.Tokens;
        }

        Add(receiveId, null, now);
        return null;
    }

    private void Add(Guid receiveId, Guid[]? tokens, DateTimeOffset now)
    {
        _byId[receiveId] = (tokens, now);
        _order.Enqueue((receiveId, now));
        while (_order.Count > Capacity)
        {
            Forget(_order.Dequeue());
        }
    }

    private void Trim(DateTimeOffset now)
    {
        while (_order.TryPeek(out var oldest) && now - oldest.At > Lifetime)
        {
            Forget(_order.Dequeue());
        }
    }

    private void Forget((Guid Id, DateTimeOffset At) entry)
    {
        if (_byId.TryGetValue(entry.Id, out var kept) && kept.At == entry.At)
        {
            _byId.Remove(entry.Id);
        }
    }
}
