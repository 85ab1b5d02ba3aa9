using OrleansQueue.Storage;

namespace OrleansQueue.Scheduling;

// Removing from the schedule: moves into the queue, removals and cancels, clearing it.
internal sealed partial class ScheduleStore
{
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
}
