using OrleansQueue.Storage;

namespace OrleansQueue.Scheduling;

/// <summary>
/// A queue's schedule: messages sent for later (<see cref="OutgoingMessage.ScheduledEnqueueTime"/>), stored apart from
/// the queue's log in segments by time bucket, each a run of chunk records of at most <see cref="ChunkMaxEntries"/>
/// messages, with a small index record (<see cref="ScheduleIndexState"/>, one entry per segment). Loading reads the
/// index, and the segments sent to within the duplicate-detection window (for their ids, one at a time); a segment's
/// messages are read when its earliest time comes, when one of them is cancelled, or when the queue is deleted. Messages due in the same bucket share segments, so segments empty as a whole and are deleted.
/// </summary>
/// <remarks>
/// <para>A scheduled message's number encodes where it is stored: <c>FirstScheduledSequenceNumber + (segment &lt;&lt; 20)
/// + (chunk &lt;&lt; 8) + slot</c>, so a cancel reads one chunk. A chunk's slots are handed out in order; a slot is
/// handed out again only when the append that took it was never confirmed.</para>
/// <para>An append writes the chunks it touched, then the index; when it starts new chunks or segments, it writes the
/// index first as well, naming them (<see cref="ScheduleSegmentInfo.NamedChunks"/>), so that every record the schedule
/// wrote is named by its index (a delete finds all of them). Only what the index confirms counts: the chunks below
/// <see cref="ScheduleSegmentInfo.Chunks"/>, and in the last of them the slots below
/// <see cref="ScheduleSegmentInfo.LastChunkSlots"/>. A message of an append whose last index write did not land was
/// never confirmed: it is ignored, and overwritten by the next append.</para>
/// <para>A failed storage call leaves this object's view unknown: the owner drops it and loads the index again.
/// Not thread-safe: the owner runs one operation at a time.</para>
/// </remarks>
internal sealed class ScheduleStore(ILogRecordStore store, long chunkMaxBytes)
{
    public const int ChunkMaxEntries = 16;
    public const int SegmentMaxEntries = 1024;

    /// <summary>
    /// Segments the index holds at most: about 100 bytes each in the index record with the binary encoding, 300 with
    /// JSON, so the record stays within Azure Table's 1 MB.
    /// </summary>
    public const int MaxSegments = 2048;

    /// <summary>Estimated stored bytes a segment takes at most (it closes then).</summary>
    public const long SegmentMaxBytes = 16L * 1024 * 1024;

    /// <summary>New segments one append starts at most: the rest of its messages wait for the next.</summary>
    public const int MaxNewSegmentsPerAppend = 64;

    private const int SlotBits = 8;
    private const int ChunkBits = 12;
    private const int MaxChunks = (1 << ChunkBits) - 1;
    private const int ParallelReads = 8;

    private ScheduleIndexState _index = new();
    private string? _etag;
    private readonly Dictionary<long, ScheduleSegmentInfo> _byId = [];
    private readonly Dictionary<long, ScheduleSegmentInfo> _openByBucket = [];
    private readonly Dictionary<(long Segment, int Chunk), (ScheduleChunkState State, string? ETag)> _lastChunks = [];

    /// <summary>Scheduled messages held (as the index counts them).</summary>
    public long Count { get; private set; }

    /// <summary>Their body bytes.</summary>
    public long BodyBytes { get; private set; }

    /// <summary>A move into the queue recorded and not finished (after a crash), if any.</summary>
    public ScheduleMove? Moving => _index.Moving;

    /// <summary>The segments, for reading the ids of recent appends back into duplicate detection.</summary>
    public IReadOnlyList<ScheduleSegmentInfo> Segments => _index.Segments;

    /// <summary>When the earliest segment may have a message due; null when the schedule is empty.</summary>
    public DateTimeOffset? NextDue
    {
        get
        {
            DateTimeOffset? next = null;
            foreach (var segment in _index.Segments)
            {
                if (segment.MinDue != DateTimeOffset.MaxValue && (next is null || segment.MinDue < next))
                {
                    next = segment.MinDue;
                }
            }

            return next;
        }
    }

    public static long Number(long segment, int chunk, int slot) =>
        QueueLimits.FirstScheduledSequenceNumber + (segment << (ChunkBits + SlotBits)) + ((long)chunk << SlotBits) + slot;

    public static (long Segment, int Chunk, int Slot) Decode(long number)
    {
        var relative = number - QueueLimits.FirstScheduledSequenceNumber;
        return (relative >> (ChunkBits + SlotBits), (int)((relative >> SlotBits) & ((1 << ChunkBits) - 1)), (int)(relative & ((1 << SlotBits) - 1)));
    }

    /// <summary>
    /// The time bucket of a message due at <paramref name="due"/>, sent at <paramref name="now"/>: buckets are 1 second
    /// wide for messages due within about a minute and twice as wide for every doubling of the time ahead (at most
    /// 2^16 s, 18 hours), about 64 buckets in each doubling, so the open segments stay few however far ahead messages are.
    /// </summary>
    public static long BucketOf(DateTimeOffset due, DateTimeOffset now)
    {
        var ahead = Math.Max(1L, (long)(due - now).TotalSeconds);
        var exponent = 0;
        while (exponent < 16 && (64L << (exponent + 1)) <= ahead)
        {
            exponent++;
        }

        return ((long)exponent << 48) | (due.ToUnixTimeSeconds() >> exponent);
    }

    public static string ChunkName(long segment, int chunk) => StateNames.ScheduleChunk(segment, chunk);

    public async Task LoadAsync()
    {
        var (index, etag) = await store.ReadAsync<ScheduleIndexState>(StateNames.ScheduleIndex);
        _index = index ?? new ScheduleIndexState();
        _etag = etag;
        _lastChunks.Clear();
        Reindex();
    }

    private void Reindex()
    {
        _byId.Clear();
        _openByBucket.Clear();
        (Count, BodyBytes) = (0, 0);
        foreach (var segment in _index.Segments)
        {
            _byId[segment.Id] = segment;
            if (!IsFull(segment))
            {
                _openByBucket[segment.Bucket] = segment;
            }

            Count += segment.Live;
            BodyBytes += segment.LiveBodyBytes;
        }
    }

    /// <summary>The segments <paramref name="entries"/> would start, appended in order (buckets without an open segment, and segments they fill).</summary>
    public int NewSegmentsFor(IReadOnlyList<StoredMessage> entries, Func<StoredMessage, long> estimateBytes, DateTimeOffset now) =>
        Simulate(entries, estimateBytes, now, int.MaxValue).NewSegments;

    /// <summary>
    /// How many of <paramref name="entries"/> (in order) the next append can take: it stops before one that would start
    /// a segment past <see cref="MaxSegments"/> or past <see cref="MaxNewSegmentsPerAppend"/> new ones.
    /// </summary>
    public int Fits(IReadOnlyList<StoredMessage> entries, Func<StoredMessage, long> estimateBytes, DateTimeOffset now) =>
        Simulate(entries, estimateBytes, now, MaxNewSegmentsPerAppend).Taken;

    private (int Taken, int NewSegments) Simulate(IReadOnlyList<StoredMessage> entries, Func<StoredMessage, long> estimateBytes, DateTimeOffset now, int maxNew)
    {
        var room = new Dictionary<long, (int Entries, long Bytes)>();
        var opened = 0;
        var taken = 0;
        foreach (var entry in entries)
        {
            var bucket = BucketOf(entry.ScheduledEnqueueTime!.Value, now);
            var bytes = estimateBytes(entry);
            if (!room.TryGetValue(bucket, out var left))
            {
                left = _openByBucket.TryGetValue(bucket, out var open)
                    ? (SegmentMaxEntries - open.Appended, SegmentMaxBytes - open.AppendedBytes)
                    : (0, 0);
            }

            if (left.Entries <= 0 || (left.Bytes < bytes && left.Entries < SegmentMaxEntries))
            {
                if (opened + 1 > maxNew || _index.Segments.Count + opened + 1 > MaxSegments)
                {
                    break;
                }

                opened++;
                left = (SegmentMaxEntries, SegmentMaxBytes);
            }

            room[bucket] = (left.Entries - 1, left.Bytes - bytes);
            taken++;
        }

        return (taken, opened);
    }

    /// <summary>
    /// Stores the entries (each with its <see cref="StoredMessage.ScheduledEnqueueTime"/>; <see cref="Fits"/> all of
    /// them) and gives each its number (<see cref="StoredMessage.Seq"/>). Returns once the index naming them is stored.
    /// </summary>
    public async Task AppendAsync(IReadOnlyList<StoredMessage> entries, Func<StoredMessage, long> estimateBytes, DateTimeOffset now)
    {
        var before = new Dictionary<long, ScheduleSegmentInfo>();
        var touched = new Dictionary<(long Segment, int Chunk), (ScheduleChunkState State, string? ETag)>();
        var chunksStarted = false;
        foreach (var entry in entries)
        {
            var due = entry.ScheduledEnqueueTime!.Value;
            var bucket = BucketOf(due, now);
            var bytes = estimateBytes(entry);
            if (_openByBucket.TryGetValue(bucket, out var open) && open.Appended > 0 && open.AppendedBytes + bytes > SegmentMaxBytes)
            {
                _openByBucket.Remove(bucket); // full by bytes: as Simulate counts it
                open.Closed = true;
            }

            if (!_openByBucket.TryGetValue(bucket, out var segment))
            {
                segment = new ScheduleSegmentInfo { Id = _index.NextSegment++, Bucket = bucket, MinDue = due };
                _index.Segments.Add(segment);
                _byId[segment.Id] = segment;
                _openByBucket[bucket] = segment;
                before[segment.Id] = new ScheduleSegmentInfo { Id = segment.Id, Bucket = bucket, MinDue = due };
            }
            else if (!before.ContainsKey(segment.Id))
            {
                before[segment.Id] = Copy(segment);
            }

            if (segment.Chunks == 0 || segment.LastChunkSlots >= ChunkMaxEntries
                || (segment.LastChunkSlots > 0 && segment.LastChunkBytes + bytes > chunkMaxBytes))
            {
                segment.Chunks++;
                segment.NamedChunks = Math.Max(segment.NamedChunks, segment.Chunks);
                (segment.LastChunkSlots, segment.LastChunkBytes) = (0, 0);
                chunksStarted = true;
            }

            var chunk = segment.Chunks - 1;
            if (!touched.TryGetValue((segment.Id, chunk), out var record))
            {
                record = await LastChunkAsync(segment, chunk);
                touched[(segment.Id, chunk)] = record;
            }

            entry.Seq = Number(segment.Id, chunk, segment.LastChunkSlots);
            record.State.Entries.Add(entry);
            segment.LastChunkSlots++;
            segment.LastChunkBytes += bytes;
            segment.AppendedBytes += bytes;
            segment.Live++;
            segment.Appended++;
            segment.LiveBodyBytes += entry.Body.Length;
            segment.LastAppendAt = now;
            if (due < segment.MinDue)
            {
                segment.MinDue = due;
            }

            Count++;
            BodyBytes += entry.Body.Length;
            if (IsFull(segment))
            {
                _openByBucket.Remove(bucket);
            }
        }

        if (chunksStarted)
        {
            // Name the new records before writing them; what they hold counts only after the last index write.
            var reserved = new ScheduleIndexState { NextSegment = _index.NextSegment, Moving = _index.Moving };
            foreach (var segment in _index.Segments)
            {
                if (before.TryGetValue(segment.Id, out var old))
                {
                    var copy = Copy(old);
                    copy.NamedChunks = segment.NamedChunks;
                    reserved.Segments.Add(copy);
                }
                else
                {
                    reserved.Segments.Add(segment);
                }
            }

            _etag = await store.WriteAsync(StateNames.ScheduleIndex, reserved, _etag);
        }

        foreach (var round in touched.Chunk(ParallelReads))
        {
            var etags = await Task.WhenAll(round.Select(t => store.WriteAsync(ChunkName(t.Key.Segment, t.Key.Chunk), t.Value.State, t.Value.ETag)));
            for (var i = 0; i < round.Length; i++)
            {
                var key = round[i].Key;
                var segment = _byId[key.Segment];
                _lastChunks.Remove((key.Segment, key.Chunk - 1));
                if (key.Chunk == segment.Chunks - 1 && !IsFull(segment))
                {
                    _lastChunks[key] = (round[i].Value.State, etags[i]);
                }
                else
                {
                    _lastChunks.Remove(key);
                }
            }
        }

        await WriteIndexAsync();
    }

    /// <summary>
    /// Reads the segments with a message due by <paramref name="now"/>, earliest first, and returns up to
    /// <paramref name="max"/> due messages (bodies up to <paramref name="maxBodyBytes"/>, the first always), earliest
    /// first, with what each segment read holds once they are removed (<see cref="RemoveAsync"/> applies it). Changes nothing.
    /// </summary>
    public async Task<DueBatch> ReadDueAsync(DateTimeOffset now, int max, long maxBodyBytes)
    {
        var due = new List<StoredMessage>();
        var after = new Dictionary<long, SegmentAfter>();
        long bytes = 0;
        foreach (var segment in _index.Segments.Where(s => s.MinDue <= now).OrderBy(s => s.MinDue).ToList())
        {
            if (due.Count >= max || (due.Count > 0 && bytes >= maxBodyBytes))
            {
                break;
            }

            var entries = await ReadSegmentAsync(segment);
            var taken = new HashSet<long>();
            foreach (var entry in entries.Where(e => e.ScheduledEnqueueTime <= now).OrderBy(e => e.ScheduledEnqueueTime).ThenBy(e => e.Seq))
            {
                if (due.Count >= max || (due.Count > 0 && bytes + entry.Body.Length > maxBodyBytes))
                {
                    break;
                }

                due.Add(entry);
                taken.Add(entry.Seq);
                bytes += entry.Body.Length;
            }

            var left = entries.Where(e => !taken.Contains(e.Seq)).ToList();
            after[segment.Id] = new SegmentAfter(left.Count, left.Sum(e => (long)e.Body.Length),
                left.Count == 0 ? DateTimeOffset.MaxValue : left.Min(e => e.ScheduledEnqueueTime!.Value));
        }

        return new DueBatch(due, after);
    }

    /// <summary>The scheduled message with <paramref name="number"/>, if the schedule holds it (one chunk read).</summary>
    public async Task<StoredMessage?> FindAsync(long number)
    {
        if (number < QueueLimits.FirstScheduledSequenceNumber)
        {
            return null;
        }

        var (segmentId, chunk, slot) = Decode(number);
        if (!_byId.TryGetValue(segmentId, out var segment) || chunk >= segment.Chunks || (chunk == segment.Chunks - 1 && slot >= segment.LastChunkSlots))
        {
            return null;
        }

        var (state, _) = await ReadChunkAsync(segment, chunk);
        return state?.Entries.FirstOrDefault(e => e.Seq == number);
    }

    /// <summary>Records a move into the queue before it is made (<see cref="ScheduleMove"/>).</summary>
    public async Task BeginMoveAsync(IReadOnlyList<StoredMessage> entries, long fromSeq)
    {
        _index.Moving = new ScheduleMove { Numbers = entries.Select(e => e.Seq).ToArray(), FromSeq = fromSeq };
        await WriteIndexAsync();
    }

    /// <summary>
    /// Removes the messages with these numbers (gone already: nothing), ends a recorded move, takes the counts of the
    /// segments a read saw (<paramref name="after"/>, as they are once the messages are removed), deletes the segments
    /// left empty, then writes the index.
    /// </summary>
    public async Task RemoveAsync(IReadOnlyCollection<long> numbers, IReadOnlyDictionary<long, SegmentAfter>? after = null)
    {
        var bySegmentChunk = numbers.Where(n => n >= QueueLimits.FirstScheduledSequenceNumber)
            .GroupBy(n => { var (s, c, _) = Decode(n); return (s, c); });
        var emptied = new HashSet<long>();
        foreach (var group in bySegmentChunk)
        {
            if (!_byId.TryGetValue(group.Key.s, out var segment) || group.Key.c >= segment.Chunks)
            {
                continue;
            }

            var (state, etag) = await ReadChunkAsync(segment, group.Key.c);
            if (state is null)
            {
                continue;
            }

            var gone = group.ToHashSet();
            var removed = state.Entries.Where(e => gone.Contains(e.Seq)).ToList();
            if (removed.Count == 0)
            {
                continue;
            }

            state.Entries.RemoveAll(e => gone.Contains(e.Seq));
            segment.Live = Math.Max(0, segment.Live - removed.Count);
            segment.LiveBodyBytes = Math.Max(0, segment.LiveBodyBytes - removed.Sum(e => (long)e.Body.Length));
            Count = Math.Max(0, Count - removed.Count);
            BodyBytes = Math.Max(0, BodyBytes - removed.Sum(e => (long)e.Body.Length));
            if (segment.Live == 0 || after?.GetValueOrDefault(segment.Id) is { Live: 0 })
            {
                emptied.Add(segment.Id);
                continue;
            }

            var written = await store.WriteAsync(ChunkName(segment.Id, group.Key.c), state, etag);
            if (_lastChunks.ContainsKey((segment.Id, group.Key.c)))
            {
                _lastChunks[(segment.Id, group.Key.c)] = (state, written);
            }
        }

        // What a read saw is exact: counts, bodies and the earliest time left (a segment it found empty goes too).
        foreach (var (id, seen) in after ?? new Dictionary<long, SegmentAfter>())
        {
            if (_byId.TryGetValue(id, out var segment))
            {
                (segment.Live, segment.LiveBodyBytes, segment.MinDue) = (seen.Live, seen.BodyBytes, seen.MinDue);
                if (seen.Live == 0)
                {
                    emptied.Add(id);
                }
            }
        }

        foreach (var id in emptied)
        {
            await DeleteSegmentRecordsAsync(_byId[id]);
        }

        _index.Segments.RemoveAll(s => emptied.Contains(s.Id));
        _index.Moving = null;
        Reindex();
        await WriteIndexAsync();
    }

    /// <summary>Deletes every record of the schedule, the index last, keeping its segment ids handed out; returns how many messages it held.</summary>
    public async Task<long> ClearAsync(bool deleteIndex)
    {
        var count = Count;
        foreach (var round in _index.Segments.SelectMany(s => ChunkNames(s)).Chunk(ParallelReads))
        {
            await Task.WhenAll(round.Select(DeleteRecordAsync));
        }

        _index.Segments.Clear();
        _index.Moving = null;
        Reindex();
        if (deleteIndex)
        {
            if (_etag is not null)
            {
                await store.DeleteAsync(StateNames.ScheduleIndex, _index, _etag);
                _etag = null;
            }
        }
        else if (_etag is not null)
        {
            await WriteIndexAsync();
        }

        return count;
    }

    /// <summary>
    /// The duplicate-detection keys (<see cref="StoredMessage.DedupKey"/> or id), numbers and send times of the messages
    /// sent since <paramref name="since"/>, oldest first, at most <paramref name="max"/> (the newest): read a segment at
    /// a time, the latest segments first, keeping no bodies.
    /// </summary>
    public async Task<List<(string Key, long Number, DateTimeOffset SentAt)>> ReadSentSinceAsync(DateTimeOffset since, int max)
    {
        var found = new List<(string Key, long Number, DateTimeOffset SentAt)>();
        foreach (var segment in _index.Segments.Where(s => s.LastAppendAt >= since).OrderByDescending(s => s.LastAppendAt).ToList())
        {
            if (found.Count >= max)
            {
                break;
            }

            foreach (var entry in await ReadSegmentAsync(segment))
            {
                if (entry.EnqueuedAt >= since)
                {
                    found.Add((entry.DedupKey ?? entry.Id, entry.Seq, entry.EnqueuedAt));
                }
            }
        }

        return [.. found.OrderBy(f => f.SentAt).ThenBy(f => f.Number).TakeLast(max)];
    }

    private async Task<List<StoredMessage>> ReadSegmentAsync(ScheduleSegmentInfo segment)
    {
        var entries = new List<StoredMessage>();
        foreach (var round in Enumerable.Range(0, segment.Chunks).Chunk(ParallelReads))
        {
            var reads = await Task.WhenAll(round.Select(c => ReadChunkAsync(segment, c)));
            foreach (var (state, _) in reads)
            {
                if (state is not null)
                {
                    entries.AddRange(state.Entries);
                }
            }
        }

        return entries;
    }

    /// <summary>A chunk as stored, without the slots of its segment's last chunk that no index write confirmed.</summary>
    private async Task<(ScheduleChunkState? State, string? ETag)> ReadChunkAsync(ScheduleSegmentInfo segment, int chunk)
    {
        if (_lastChunks.TryGetValue((segment.Id, chunk), out var cached))
        {
            return (new ScheduleChunkState { Entries = [.. cached.State.Entries] }, cached.ETag);
        }

        var (state, etag) = await store.ReadAsync<ScheduleChunkState>(ChunkName(segment.Id, chunk));
        if (state is not null && chunk == segment.Chunks - 1)
        {
            state.Entries.RemoveAll(e => Decode(e.Seq).Slot >= segment.LastChunkSlots);
        }

        return (state, etag);
    }

    /// <summary>The last chunk of a segment for an append: cached, or read (it may hold unconfirmed slots, dropped here).</summary>
    private async Task<(ScheduleChunkState State, string? ETag)> LastChunkAsync(ScheduleSegmentInfo segment, int chunk)
    {
        if (_lastChunks.TryGetValue((segment.Id, chunk), out var cached))
        {
            return cached;
        }

        var (state, etag) = await store.ReadAsync<ScheduleChunkState>(ChunkName(segment.Id, chunk));
        state ??= new ScheduleChunkState();
        state.Entries.RemoveAll(e => Decode(e.Seq).Slot >= segment.LastChunkSlots);
        return (state, etag);
    }

    private async Task DeleteSegmentRecordsAsync(ScheduleSegmentInfo segment)
    {
        foreach (var round in ChunkNames(segment).Chunk(ParallelReads))
        {
            await Task.WhenAll(round.Select(DeleteRecordAsync));
        }
    }

    /// <summary>Every chunk record the segment may have (the index names them all), forgetting the cached ones.</summary>
    private IEnumerable<string> ChunkNames(ScheduleSegmentInfo segment)
    {
        for (var chunk = 0; chunk < Math.Max(segment.Chunks, segment.NamedChunks); chunk++)
        {
            _lastChunks.Remove((segment.Id, chunk));
            yield return ChunkName(segment.Id, chunk);
        }
    }

    /// <summary>Deletes a chunk record by its stored version; one gone already counts as deleted.</summary>
    private async Task DeleteRecordAsync(string name)
    {
        var (state, etag) = await store.ReadAsync<ScheduleChunkState>(name);
        if (state is not null)
        {
            await store.DeleteAsync(name, state, etag);
        }
    }

    private async Task WriteIndexAsync()
    {
        _etag = await store.WriteAsync(StateNames.ScheduleIndex, _index, _etag);
        Reindex();
    }

    private static bool IsFull(ScheduleSegmentInfo segment) =>
        segment.Closed || segment.Appended >= SegmentMaxEntries || segment.Chunks >= MaxChunks || segment.AppendedBytes >= SegmentMaxBytes;

    private static ScheduleSegmentInfo Copy(ScheduleSegmentInfo s) => new()
    {
        Id = s.Id,
        Bucket = s.Bucket,
        Chunks = s.Chunks,
        LastChunkSlots = s.LastChunkSlots,
        LastChunkBytes = s.LastChunkBytes,
        Live = s.Live,
        Appended = s.Appended,
        MinDue = s.MinDue,
        LiveBodyBytes = s.LiveBodyBytes,
        LastAppendAt = s.LastAppendAt,
        NamedChunks = s.NamedChunks,
        AppendedBytes = s.AppendedBytes,
        Closed = s.Closed,
    };
}

/// <summary>Due messages read from the schedule, and what each segment read holds once they are removed.</summary>
internal sealed record DueBatch(List<StoredMessage> Messages, Dictionary<long, SegmentAfter> After);

/// <summary>What a schedule segment holds after a removal, as a read of all of it saw.</summary>
internal readonly record struct SegmentAfter(int Live, long BodyBytes, DateTimeOffset MinDue);
