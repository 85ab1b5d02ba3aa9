using OrleansQueue.Storage;

namespace OrleansQueue.Scheduling;

// Reading the schedule: due messages, one message by its number, recent ids, segments and chunks.
internal sealed partial class ScheduleStore
{
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
}
