using OrleansQueue.Storage;

namespace OrleansQueue.Delivery;

/// <summary>
/// The stragglers' store: messages in flight that the delivery window moved past (parked), each with its delivery
/// state, in bounded in-flight page records of their own (ids <see cref="From"/> to <see cref="To"/>), so a message
/// held for hours costs one copy, not a place in the window or a record in every cursor write. A changed page is
/// written before the next cursor write (<see cref="Dirty"/>, <see cref="Written"/>). It does no I/O.
/// </summary>
internal sealed class InFlightPages(long from, long to, int pageMaxMessages, long pageMaxBytes)
{
    /// <summary>
    /// The most a parked message's delivery record can take in a page, whatever happens to it later: the fixed
    /// fields, <see cref="DeliveryEntry.MaxAttemptsKept"/> attempts and two strings of <see cref="DeliveryEntry.MaxErrorLength"/> characters.
    /// </summary>
    public const int ParkedRecordMaxBytes = 200 + 16 * DeliveryEntry.MaxAttemptsKept + 4 * DeliveryEntry.MaxErrorLength;

    private readonly SortedDictionary<long, ParkedEntry> _parked = [];
    private readonly SortedDictionary<long, InFlightPage> _pages = [];

    /// <summary>The first in-flight page not deleted; see <see cref="QueueMetaState.InFlightPagesFrom"/>.</summary>
    public long From { get; private set; } = from;

    /// <summary>The id the next new in-flight page gets.</summary>
    public long To { get; private set; } = Math.Max(from, to);

    /// <summary>Messages parked.</summary>
    public int Count => _parked.Count;

    /// <summary>The parked messages by sequence number.</summary>
    public SortedDictionary<long, ParkedEntry>.ValueCollection Parked => _parked.Values;

    public bool TryGet(long seq, out ParkedEntry parked) => _parked.TryGetValue(seq, out parked!);

    /// <summary>
    /// Restores one page read at activation, before the window is loaded. Entries at or above
    /// <paramref name="ackedBelow"/> were parked by a write whose cursor write never happened: the window has them, so
    /// they are dropped here and the page is rewritten without them (deleted when nothing is left).
    /// <paramref name="restore"/> rebuilds each kept message's delivery state.
    /// </summary>
    public void Restore(long id, InFlightPageState? state, string? etag, long ackedBelow, Func<StoredMessage, DeliveryRecord?, DeliveryEntry> restore)
    {
        var page = new InFlightPage(id) { ETag = etag };
        _pages[id] = page;
        To = Math.Max(To, id + 1);
        var stale = false;
        foreach (var parked in state?.Entries ?? [])
        {
            var seq = parked.Message.Seq;
            if (seq >= ackedBelow || _parked.ContainsKey(seq))
            {
                stale = true;
                continue;
            }

            var bytes = ParkedBytes(parked.Message);
            var entry = new ParkedEntry(parked.Message, id, bytes);
            _parked[seq] = entry;
            page.Seqs.Add(seq);
            page.Bytes += bytes;
            entry.Entry = restore(parked.Message, parked.Delivery);
        }

        if (stale || page.Seqs.Count == 0)
        {
            page.Version++;
        }
    }

    /// <summary>Parks a message with its delivery state in the newest page, or a new one when that is full.</summary>
    public void Park(StoredMessage message, in DeliveryEntry entry)
    {
        var bytes = ParkedBytes(message);
        if (!_pages.TryGetValue(To - 1, out var page)
            || (page.Seqs.Count > 0 && (page.Seqs.Count >= pageMaxMessages || page.Bytes + bytes > pageMaxBytes)))
        {
            page = new InFlightPage(To++);
            _pages[page.Id] = page;
        }

        page.Seqs.Add(message.Seq);
        page.Bytes += bytes;
        page.Version++;
        _parked[message.Seq] = new ParkedEntry(message, page.Id, bytes) { Entry = entry };
    }

    /// <summary>Marks the page of a parked message as changed, so the next cursor write stores it first.</summary>
    public void Touch(long seq)
    {
        if (_parked.TryGetValue(seq, out var parked))
        {
            _pages[parked.Page].Version++;
        }
    }

    /// <summary>Takes a completed message out of its page; false when it is not parked.</summary>
    public bool Remove(long seq)
    {
        if (!_parked.Remove(seq, out var parked))
        {
            return false;
        }

        var page = _pages[parked.Page];
        page.Seqs.Remove(seq);
        page.Bytes -= parked.Bytes;
        page.Version++;
        return true;
    }

    /// <summary>Empties every page (a purge); the emptied pages are deleted by the next cursor write.</summary>
    public void Clear()
    {
        _parked.Clear();
        foreach (var page in _pages.Values)
        {
            page.Seqs.Clear();
            page.Bytes = 0;
            page.Version++;
        }
    }

    /// <summary>The pages changed since they were last stored, oldest first: written before the cursor.</summary>
    public List<InFlightPageWrite> Dirty()
    {
        var writes = new List<InFlightPageWrite>();
        foreach (var page in _pages.Values)
        {
            if (!page.Dirty)
            {
                continue;
            }

            InFlightPageState? state = null;
            if (page.Seqs.Count > 0)
            {
                state = new InFlightPageState();
                foreach (var seq in page.Seqs)
                {
                    var parked = _parked[seq];
                    state.Entries.Add(new ParkedMessage { Message = parked.Message, Delivery = CursorCodec.ToRecord(seq, parked.Entry) });
                }
            }

            writes.Add(new InFlightPageWrite(page.Id, page.Version, state, page.ETag));
        }

        return writes;
    }

    /// <summary>
    /// Records that a page from <see cref="Dirty"/> is stored (or deleted, with a null state) with
    /// <paramref name="etag"/>; an empty page that did not change since is forgotten.
    /// </summary>
    public void Written(InFlightPageWrite write, string? etag)
    {
        if (!_pages.TryGetValue(write.Id, out var page))
        {
            return;
        }

        page.ETag = etag;
        page.WrittenVersion = Math.Max(page.WrittenVersion, write.Version);
        if (write.State is null && page.Seqs.Count == 0 && !page.Dirty)
        {
            _pages.Remove(write.Id);
            while (From < To && !_pages.ContainsKey(From))
            {
                From++;
            }
        }
    }

    private static long ParkedBytes(StoredMessage message) => SegmentSizing.EstimateBytes(message) + ParkedRecordMaxBytes;
}
