using OrleansQueue.Storage;

namespace OrleansQueue.DeadLetters;

/// <summary>
/// A queue's moves to the dead-letter grain that are stored in its cursor record and not yet finished, oldest first,
/// and the messages whose move waits for room among them (deferred). Bounded in count and in the estimated bytes the
/// moves take in the cursor record: a message to dead-letter beyond them waits its turn as a delayed message
/// (<see cref="Deferral"/>), so a dead-letter storm cannot grow the cursor.
/// </summary>
internal sealed class PendingMoves
{
    /// <summary>
    /// Most moves stored in the cursor record at once, within <see cref="MaxBytes"/>. The more are pending, the more
    /// each move batch and cursor write carries (W6: 6.7k moves/s at 200, 13k at 1,000).
    /// </summary>
    public const int MaxCount = 1000;

    /// <summary>
    /// Most estimated bytes of pending moves (<see cref="EstimateBytes"/>): 245 KiB, what 200 moves with the longest
    /// descriptions take, so the cursor's worst case does not grow with <see cref="MaxCount"/>.
    /// </summary>
    public const long MaxBytes = 245 * 1024;

    /// <summary>Longest dead-letter description kept (a consumer's reason is cut to this).</summary>
    public const int MaxDescriptionLength = 512;

    /// <summary>How long a deferred move waits before it asks for room again (a completed move gives room at once).</summary>
    public static readonly TimeSpan Deferral = TimeSpan.FromSeconds(1);

    private readonly SortedDictionary<long, MoveRecord> _moves = [];
    private readonly Queue<long> _deferred = new();

    public PendingMoves(IEnumerable<MoveRecord> stored)
    {
        foreach (var move in stored)
        {
            Add(move);
        }
    }

    /// <summary>A pending move's estimated share of the cursor record.</summary>
    public static long EstimateBytes(string? description) => 200 + 2L * (description?.Length ?? 0);

    /// <summary>The estimated bytes the pending moves take in the cursor record.</summary>
    public long Bytes { get; private set; }

    public int Count => _moves.Count;

    /// <summary>The pending moves, oldest (lowest sequence number) first.</summary>
    public IReadOnlyCollection<MoveRecord> All => _moves.Values;

    /// <summary>Messages whose move waits for room (each counted once).</summary>
    public int DeferredCount => _deferred.Count;

    public bool Contains(long seq) => _moves.ContainsKey(seq);

    /// <summary>Whether a move with this description fits now, in count and in bytes.</summary>
    public bool HasRoomFor(string? description) => _moves.Count < MaxCount && Bytes + EstimateBytes(description) <= MaxBytes;

    /// <summary>Whether the count leaves room (bytes aside): a deferred move may take it.</summary>
    public bool HasCountRoom => _moves.Count < MaxCount;

    /// <summary>Whether a move with this description fits in the bytes left (count aside).</summary>
    public bool FitsBytes(string? description) => Bytes + EstimateBytes(description) <= MaxBytes;

    public void Add(MoveRecord move)
    {
        _moves[move.Seq] = move;
        Bytes += EstimateBytes(move.Description);
    }

    public bool TryRemove(long seq, out MoveRecord? move)
    {
        if (!_moves.Remove(seq, out move))
        {
            return false;
        }

        Bytes -= EstimateBytes(move.Description);
        return true;
    }

    /// <summary>Puts a message in line for room; once only (deferred again, it keeps its place).</summary>
    public void Defer(long seq) => _deferred.Enqueue(seq);

    public bool TryPeekDeferred(out long seq) => _deferred.TryPeek(out seq);

    public void DequeueDeferred() => _deferred.Dequeue();

    /// <summary>Forgets every move and deferral (a purge: messages on their way to the dead-letter grain are purged too).</summary>
    public void Clear()
    {
        _moves.Clear();
        _deferred.Clear();
        Bytes = 0;
    }

    /// <summary>
    /// The oldest pending moves, as many as one enqueue takes: at most <paramref name="maxCount"/> and
    /// <paramref name="maxBodyBytes"/> of message bodies (always at least one).
    /// </summary>
    public List<MoveRecord> TakeBatch(Func<MoveRecord, int> bodyBytes, int maxCount, long maxBodyBytes)
    {
        var batch = new List<MoveRecord>();
        long bytes = 0;
        foreach (var move in _moves.Values)
        {
            var size = bodyBytes(move);
            if (batch.Count > 0 && (batch.Count >= maxCount || bytes + size > maxBodyBytes))
            {
                break;
            }

            batch.Add(move);
            bytes += size;
        }

        return batch;
    }
}
