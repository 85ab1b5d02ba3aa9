using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace OrleansQueue.Appending;

/// <summary>
/// The duplicate-detection index of one queue: the sequence number stored for each message id (or redrive key) sent
/// within the window, keyed by <see cref="Hash"/> (16 bytes an id instead of the id string). Bounded twice: ids older
/// than <paramref name="window"/> are forgotten (<see cref="Trim"/>), and beyond <paramref name="maxIds"/> the oldest go.
/// A zero window turns duplicate detection off: nothing is remembered.
/// </summary>
internal sealed class DuplicateIndex(TimeSpan window, int maxIds)
{
    private readonly Dictionary<UInt128, (long Seq, DateTimeOffset At)> _bySeq = [];
    private readonly Queue<(UInt128 Key, DateTimeOffset At)> _order = new();

    /// <summary>Whether duplicate detection is on (a window above zero).</summary>
    public bool Enabled => window > TimeSpan.Zero;

    /// <summary>Ids remembered.</summary>
    public int Count => _bySeq.Count;

    /// <summary>
    /// The duplicate-detection key of an id: the first 128 bits of the SHA-256 of its UTF-8 bytes. Two different ids
    /// share a key with a probability of about n² / 2¹²⁹ (1e-28 for 200,000 ids), and SHA-256 gives no practical way
    /// to make them collide on purpose, so the index need not keep the id strings.
    /// </summary>
    public static UInt128 Hash(string id)
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

    public bool TryGet(string messageId, out long seq) => TryGet(Hash(messageId), out seq);

    public bool TryGet(UInt128 key, out long seq)
    {
        var found = _bySeq.TryGetValue(key, out var entry);
        seq = entry.Seq;
        return found;
    }

    /// <summary>Remembers a stored id (oldest first); beyond the cap the oldest is forgotten.</summary>
    public void Remember(UInt128 key, long seq, DateTimeOffset enqueuedAt)
    {
        if (!Enabled)
        {
            return;
        }

        _bySeq[key] = (seq, enqueuedAt);
        _order.Enqueue((key, enqueuedAt));
        while (_order.Count > maxIds)
        {
            ForgetOldest();
        }
    }

    /// <summary>Forgets ids older than the window.</summary>
    public void Trim(DateTimeOffset now)
    {
        var horizon = now - window;
        while (_order.TryPeek(out var oldest) && oldest.At < horizon)
        {
            ForgetOldest();
        }
    }

    private void ForgetOldest()
    {
        var (key, at) = _order.Dequeue();
        // An id sent again after its window has a newer entry: keep that one.
        if (_bySeq.TryGetValue(key, out var entry) && entry.At == at)
        {
            _bySeq.Remove(key);
        }
    }
}
