using System.Buffers;
using System.Buffers.Binary;
using System.Numerics;
using System.Security.Cryptography;
using System.Text;

namespace OrleansQueue.Appending;

/// <summary>
/// The duplicate-detection index of one queue: the sequence number stored for each message id (or redrive key) sent
/// within the window, keyed by <see cref="Hash"/> (16 bytes an id instead of the id string). Bounded twice: ids older
/// than <paramref name="window"/> are forgotten (<see cref="Trim"/>), and beyond <paramref name="maxIds"/> the oldest go.
/// A zero window turns duplicate detection off: nothing is remembered.
/// </summary>
/// <remarks>
/// Compact, because every busy queue holds up to <paramref name="maxIds"/> ids for the whole window: the ids in the
/// order remembered in a ring of 32-byte entries (key, sequence number, time), and an open-addressing table (linear
/// probing) of ring positions, one int a slot, at most half full: about 40 bytes an id where a dictionary beside a
/// queue took 80 and more. Both grow by doubling (the ring up to <paramref name="maxIds"/>); an idle queue holds none.
/// An id remembered again points the table at its newer entry; its older entry only holds its place in line.
/// </remarks>
internal sealed class DuplicateIndex(TimeSpan window, int maxIds)
{
    private Entry[] _ring = [];
    private int _head;
    private int _count;
    private int[] _slots = [];

    /// <summary>
    /// How long ids are remembered. Shortened, older ids go at the next <see cref="Trim"/>; set to zero, every id is
    /// forgotten at once and duplicate detection is off; lengthened, it applies to the ids still remembered.
    /// </summary>
    public TimeSpan Window
    {
        get => window;
        set
        {
            window = value;
            if (!Enabled)
            {
                (_ring, _slots, _head, _count) = ([], [], 0, 0);
                Count = 0;
            }
        }
    }

    /// <summary>Whether duplicate detection is on (a window above zero).</summary>
    public bool Enabled => window > TimeSpan.Zero;

    /// <summary>Ids remembered.</summary>
    public int Count { get; private set; }

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
        var slot = Find(key);
        seq = slot >= 0 ? _ring[_slots[slot] - 1].Seq : 0;
        return slot >= 0;
    }

    /// <summary>Remembers a stored id (oldest first); beyond the cap the oldest is forgotten.</summary>
    public void Remember(UInt128 key, long seq, DateTimeOffset enqueuedAt)
    {
        if (!Enabled)
        {
            return;
        }

        if (_count >= maxIds)
        {
            ForgetOldest();
        }

        if (_count == _ring.Length)
        {
            Grow();
        }

        var position = (_head + _count) % _ring.Length;
        _ring[position] = new Entry(key, seq, enqueuedAt.UtcTicks);
        _count++;
        var slot = Find(key);
        if (slot >= 0)
        {
            _slots[slot] = position + 1; // the newer entry; the older one keeps only its place in line
        }
        else
        {
            Insert(key, position);
            Count++;
        }
    }

    /// <summary>Forgets ids older than the window.</summary>
    public void Trim(DateTimeOffset now)
    {
        var horizon = (now - window).UtcTicks;
        while (_count > 0 && _ring[_head].At < horizon)
        {
            ForgetOldest();
        }
    }

    private void ForgetOldest()
    {
        var position = _head;
        var oldest = _ring[position];
        _head = (_head + 1) % _ring.Length;
        _count--;
        var slot = Find(oldest.Key);
        if (slot >= 0 && _slots[slot] == position + 1)
        {
            Delete(slot);
            Count--;
        }
    }

    /// <summary>Doubles the ring (at most to the cap), oldest first from 0, and rebuilds the table for it.</summary>
    private void Grow()
    {
        var capacity = (int)Math.Min(Math.Max(16L, _ring.Length * 2L), Math.Max(1, maxIds));
        var ring = new Entry[capacity];
        for (var i = 0; i < _count; i++)
        {
            ring[i] = _ring[(_head + i) % _ring.Length];
        }

        _ring = ring;
        _head = 0;
        _slots = new int[(int)BitOperations.RoundUpToPowerOf2((uint)capacity * 2)];
        for (var i = 0; i < _count; i++)
        {
            var slot = Find(ring[i].Key);
            if (slot >= 0)
            {
                _slots[slot] = i + 1; // newer than the entry found
            }
            else
            {
                Insert(ring[i].Key, i);
            }
        }
    }

    private static int Home(UInt128 key, int mask) => (int)(ulong)key & mask;

    /// <summary>The table slot that points at <paramref name="key"/>'s entry, or -1.</summary>
    private int Find(UInt128 key)
    {
        if (Count == 0 || _slots.Length == 0)
        {
            return -1;
        }

        var mask = _slots.Length - 1;
        for (var i = Home(key, mask); _slots[i] != 0; i = (i + 1) & mask)
        {
            if (_ring[_slots[i] - 1].Key == key)
            {
                return i;
            }
        }

        return -1;
    }

    private void Insert(UInt128 key, int position)
    {
        var mask = _slots.Length - 1;
        var i = Home(key, mask);
        while (_slots[i] != 0)
        {
            i = (i + 1) & mask;
        }

        _slots[i] = position + 1;
    }

    /// <summary>Empties <paramref name="slot"/> and moves later entries of its probe run back so every key stays reachable (Knuth's algorithm R).</summary>
    private void Delete(int slot)
    {
        var mask = _slots.Length - 1;
        var hole = slot;
        _slots[hole] = 0;
        for (var j = (hole + 1) & mask; _slots[j] != 0; j = (j + 1) & mask)
        {
            var home = Home(_ring[_slots[j] - 1].Key, mask);
            // The entry at j may fill the hole unless its home lies cyclically in (hole, j].
            var stays = hole <= j ? hole < home && home <= j : hole < home || home <= j;
            if (!stays)
            {
                _slots[hole] = _slots[j];
                _slots[j] = 0;
                hole = j;
            }
        }
    }

    private readonly record struct Entry(UInt128 Key, long Seq, long At);
}
