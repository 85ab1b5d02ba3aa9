namespace OrleansQueue.Internal;

/// <summary>
/// The lock tokens of the last receives, by receive id, so a caller that cancelled just as its receive returned can
/// have those locks released (<see cref="IQueueGrain.ReleaseReceive"/>). Bounded: at most <see cref="Capacity"/>
/// receives, each kept for <see cref="Lifetime"/>.
/// </summary>
internal sealed class RecentReceives
{
    public const int Capacity = 1024;

    public static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(2);

    private readonly Dictionary<Guid, (Guid[] Tokens, DateTimeOffset At)> _byId = [];
    private readonly Queue<(Guid Id, DateTimeOffset At)> _order = new();

    public void Remember(Guid receiveId, ReceivedMessage[] received, DateTimeOffset now)
    {
        Trim(now);
        if (receiveId == Guid.Empty || received.Length == 0)
        {
            return;
        }

        _byId[receiveId] = (Array.ConvertAll(received, r => r.LockToken), now);
        _order.Enqueue((receiveId, now));
        while (_order.Count > Capacity)
        {
            Forget(_order.Dequeue());
        }
    }

    /// <summary>The tokens of the receive, once: a second call gets null.</summary>
    public Guid[]? Take(Guid receiveId, DateTimeOffset now)
    {
        Trim(now);
        return _byId.Remove(receiveId, out var entry) ? entry.Tokens : null;
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
