namespace OrleansQueue.DeadLetters;

/// <summary>
/// The entry id stored for each move id, for idempotent adds: a move sent again (after a crash of its queue) gets the
/// entry it made the first time. Bounded: the newest <see cref="Capacity"/> move ids, oldest forgotten first.
/// </summary>
internal sealed class MoveIdIndex
{
    /// <summary>Move ids kept.</summary>
    public const int Capacity = 100_000;

    private readonly Dictionary<Guid, long> _entryIds = [];
    private readonly Queue<Guid> _order = new();

    public bool TryGet(Guid moveId, out long entryId) => _entryIds.TryGetValue(moveId, out entryId);

    /// <summary>Remembers a stored move (oldest first); a move id known already keeps its first entry.</summary>
    public void Remember(Guid moveId, long entryId)
    {
        if (!_entryIds.TryAdd(moveId, entryId))
        {
            return;
        }

        _order.Enqueue(moveId);
        while (_order.Count > Capacity)
        {
            _entryIds.Remove(_order.Dequeue());
        }
    }

    public void Clear()
    {
        _entryIds.Clear();
        _order.Clear();
    }
}
