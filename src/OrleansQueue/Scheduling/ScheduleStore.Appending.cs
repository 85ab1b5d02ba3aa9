using OrleansQueue.Storage;

namespace OrleansQueue.Scheduling;

// Appending to the schedule: room (new segments and buckets), and the append with its index writes.
internal sealed partial class ScheduleStore
{
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
}
