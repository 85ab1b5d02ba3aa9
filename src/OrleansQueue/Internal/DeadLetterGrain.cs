using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using Orleans.Storage;
using OrleansQueue.Diagnostics;
using OrleansQueue.Options;
using OrleansQueue.Storage;

namespace OrleansQueue.Internal;

/// <summary>What queue grains call on the dead-letter grain.</summary>
[Alias("oq.IDeadLetterStore")]
internal interface IDeadLetterStore : IGrainWithIntegerKey
{
    /// <summary>Stores the entry once per <paramref name="moveId"/>; a repeated move returns the first entry's id.</summary>
    [Alias("Add")]
    Task<long> Add(Guid moveId, DeadLetterEntry entry);
}

/// <summary>What the dead-letter grain calls on queue grains.</summary>
[Alias("oq.IQueueRedriveTarget")]
internal interface IQueueRedriveTarget : IGrainWithStringKey
{
    /// <summary>Enqueues redriven messages, deduplicated by <paramref name="dedupKeys"/> rather than by message id.</summary>
    [Alias("EnqueueRedriven")]
    Task<long[]> EnqueueRedriven(OutgoingMessage[] messages, string[] dedupKeys);
}

/// <summary>
/// The cluster-wide dead-letter grain. Entries live in bounded segment records in id order; a delete rewrites its
/// segment (holes are fine) and empty head segments are deleted. Counts are kept in the cursor record, written ahead of
/// deletes (pending deletes are re-applied after a crash) and behind adds (entries past <c>CountedThrough</c> are
/// counted when found at activation), so they stay exact.
/// </summary>
internal sealed partial class DeadLetterGrain : Grain, IDeadLetterGrain, IDeadLetterStore
{
    private const int SegmentMaxEntries = 64;
    private const long SegmentMaxBytes = 600 * 1024;
    private const int MaxSegmentsPerScan = 256;
    private const int MoveIdsKept = 100_000;

    private readonly IGrainStorage _storage;
    private readonly string _storageName;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Dictionary<Guid, long> _moveIds = [];
    private readonly Queue<Guid> _moveIdOrder = new();

    private DeadLetterMeta _meta = new();
    private string? _metaETag;
    private DeadLetterSegment _tail = new() { FirstEntryId = 1 };
    private string? _tailETag;
    private long _tailBytes;
    private QueueInstruments.DeadLetterDepth? _depth;

    public DeadLetterGrain(
        IOptions<OrleansQueueOptions> options,
        [FromKeyedServices(TimeProviderNames.Grains)] TimeProvider time,
        IServiceProvider services,
        ILogger<DeadLetterGrain> logger)
    {
        _storageName = options.Value.StorageName;
        _storage = services.GetRequiredKeyedService<IGrainStorage>(_storageName);
        _time = time;
        _logger = logger;
    }

    private long NextEntryId => _tail.Entries.Count > 0 ? _tail.Entries[^1].EntryId + 1 : _tail.FirstEntryId;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var meta = new GrainState<DeadLetterMeta>();
        await StorageReadErrors.ReadStateAsync(_storage, _storageName, StateNames.DeadLetterMeta, this.GetGrainId(), meta);
        _meta = meta.RecordExists && meta.State is not null ? meta.State : new DeadLetterMeta();
        _metaETag = meta.ETag;

        // The tail: the hint, then any newer segments. Entries past CountedThrough were added after the last count.
        var newestFirst = new List<(long Id, DeadLetterSegment Segment, string? ETag)>();
        for (var id = _meta.TailSegment; ; id++)
        {
            var (segment, etag) = await ReadSegmentAsync(id);
            if (segment is null)
            {
                break;
            }

            (_tail, _tailETag, _meta.TailSegment) = (segment, etag, id);
            newestFirst.Insert(0, (id, segment, etag));
        }

        _tailBytes = _tail.Entries.Sum(EstimateBytes);
        var counted = false;
        foreach (var (_, segment, _) in newestFirst)
        {
            foreach (var entry in segment.Entries.Where(e => e.EntryId > _meta.CountedThrough))
            {
                Count(entry, +1);
                counted = true;
            }
        }

        _meta.CountedThrough = Math.Max(_meta.CountedThrough, NextEntryId - 1);

        // Move ids for idempotent adds, newest segments first, up to the cap.
        for (var id = _meta.TailSegment; id >= _meta.HeadSegment && _moveIds.Count < MoveIdsKept; id--)
        {
            var segment = id == _meta.TailSegment ? _tail : (await ReadSegmentAsync(id)).Segment;
            foreach (var entry in segment?.Entries ?? [])
            {
                _moveIds.TryAdd(entry.MoveId, entry.EntryId);
                _moveIdOrder.Enqueue(entry.MoveId);
            }
        }

        if (_meta.PendingDeletes.Count > 0)
        {
            await ApplyDeletesAsync(_meta.PendingDeletes);
            _meta.PendingDeletes = [];
            counted = true;
        }

        if (counted)
        {
            await WriteMetaAsync();
        }

        _depth = QueueInstruments.TrackDeadLetters();
        _depth.Set(_meta.CountBySourceQueue);
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _depth?.Dispose();
        return Task.CompletedTask;
    }

    // ------------------------------------------------------------------ add

    public async Task<long> Add(Guid moveId, DeadLetterEntry entry)
    {
        if (_moveIds.TryGetValue(moveId, out var existing))
        {
            return existing;
        }

        var stored = ToStored(entry, NextEntryId, moveId);
        var bytes = EstimateBytes(stored);
        if (_tail.Entries.Count >= SegmentMaxEntries || (_tail.Entries.Count > 0 && _tailBytes + bytes > SegmentMaxBytes))
        {
            (_tail, _tailETag, _tailBytes) = (new DeadLetterSegment { FirstEntryId = stored.EntryId }, null, 0);
            _meta.TailSegment++;
        }

        var next = new DeadLetterSegment { FirstEntryId = _tail.FirstEntryId, Entries = [.. _tail.Entries, stored] };
        var state = new GrainState<DeadLetterSegment>(next, _tailETag);
        try
        {
            await _storage.WriteStateAsync(StateNames.DeadLetterSegment(_meta.TailSegment), this.GetGrainId(), state);
        }
        catch
        {
            DeactivateOnIdle(); // re-read everything on the next call
            throw;
        }

        (_tail, _tailETag, _tailBytes) = (next, state.ETag, _tailBytes + bytes);
        RememberMove(moveId, stored.EntryId);
        Count(stored, +1);
        _meta.CountedThrough = stored.EntryId;
        await WriteMetaAsync();
        LogAdded(stored.EntryId, entry.SourceQueue, entry.Message.MessageId, entry.Reason);
        return stored.EntryId;
    }

    // ------------------------------------------------------------------ browse, stats

    public async Task<DeadLetterPage> Browse(DeadLetterFilter filter, int pageSize, long fromEntryId)
    {
        QueueLimits.ValidateCount(pageSize, 1000, nameof(pageSize));
        ArgumentNullException.ThrowIfNull(filter);
        var (matches, continuation) = await ScanAsync(filter, pageSize, fromEntryId);
        return new DeadLetterPage { Entries = matches.Select(m => ToEntry(m)).ToArray(), ContinuationEntryId = continuation };
    }

    public Task<DeadLetterStats> GetStats() => Task.FromResult(new DeadLetterStats
    {
        Count = _meta.CountByReason.Values.Sum(),
        CountByReason = new Dictionary<DeadLetterReason, long>(_meta.CountByReason),
        CountBySourceQueue = new Dictionary<string, long>(_meta.CountBySourceQueue),
    });

    // ------------------------------------------------------------------ redrive, delete, purge

    public async Task<RedriveResult> Redrive(DeadLetterFilter filter, string? targetQueue, int maxMessages)
    {
        ArgumentNullException.ThrowIfNull(filter);
        QueueLimits.ValidateCount(maxMessages, 1000, nameof(maxMessages));
        if (targetQueue is not null)
        {
            QueueLimits.ValidateQueueName(targetQueue);
        }

        var (matches, continuation) = await ScanAsync(filter, maxMessages, 0);
        foreach (var group in matches.GroupBy(m => targetQueue ?? m.SourceQueue))
        {
            var entries = group.ToArray();
            var messages = entries.Select(e => new OutgoingMessage(e.Message.Body)
            {
                MessageId = e.Message.Id,
                ContentType = e.Message.ContentType,
                Headers = e.Message.Headers,
            }).ToArray();

            // Deduplicated by the move, not the message id: a redrive repeated after a crash stores one copy, and a
            // message redriven soon after it was first sent is not mistaken for a duplicate of itself.
            var keys = entries.Select(e => $"redrive:{e.MoveId:N}").ToArray();
            await GrainFactory.GetGrain<IQueueRedriveTarget>(group.Key).EnqueueRedriven(messages, keys);
            await DeleteAsync(entries.Select(e => e.EntryId).ToList());
            LogRedriven(entries.Length, group.Key);
        }

        return new RedriveResult { Redriven = matches.Count, More = continuation is not null };
    }

    public async Task<int> Delete(long[] entryIds)
    {
        ArgumentNullException.ThrowIfNull(entryIds);
        QueueLimits.ValidateCount(entryIds.Length, 1000, "The number of entry ids");
        return await DeleteAsync(entryIds.Distinct().ToList());
    }

    public async Task<long> Purge(DeadLetterFilter filter)
    {
        ArgumentNullException.ThrowIfNull(filter);
        long purged = 0;
        while (true)
        {
            var (matches, continuation) = await ScanAsync(filter, 1000, 0);
            purged += await DeleteAsync(matches.Select(m => m.EntryId).ToList());
            if (continuation is null || matches.Count == 0)
            {
                return purged;
            }
        }
    }

    private async Task<int> DeleteAsync(List<long> entryIds)
    {
        if (entryIds.Count == 0)
        {
            return 0;
        }

        // Find them first, so only entries that exist are counted down.
        var existing = new List<StoredDeadLetter>();
        foreach (var id in entryIds.Order())
        {
            if (await FindAsync(id) is { } found)
            {
                existing.Add(found);
            }
        }

        if (existing.Count == 0)
        {
            return 0;
        }

        // Write-ahead: counts and the pending list first, then the segments, then clear the list.
        foreach (var entry in existing)
        {
            Count(entry, -1);
        }

        _meta.PendingDeletes = existing.Select(e => e.EntryId).ToList();
        await WriteMetaAsync();
        await ApplyDeletesAsync(_meta.PendingDeletes);
        _meta.PendingDeletes = [];
        await WriteMetaAsync();
        return existing.Count;
    }

    /// <summary>Removes the entries from their segments (idempotent) and deletes empty segments at the head.</summary>
    private async Task ApplyDeletesAsync(IReadOnlyCollection<long> entryIds)
    {
        var ids = entryIds.ToHashSet();
        foreach (var segmentId in await SegmentsOfAsync(ids))
        {
            var (segment, etag) = segmentId == _meta.TailSegment ? (_tail, _tailETag) : await ReadSegmentAsync(segmentId);
            if (segment is null || !segment.Entries.Any(e => ids.Contains(e.EntryId)))
            {
                continue;
            }

            var kept = new DeadLetterSegment { FirstEntryId = segment.FirstEntryId, Entries = segment.Entries.Where(e => !ids.Contains(e.EntryId)).ToList() };
            var state = new GrainState<DeadLetterSegment>(kept, etag);
            if (kept.Entries.Count == 0 && segmentId == _meta.HeadSegment && segmentId != _meta.TailSegment)
            {
                await _storage.ClearStateAsync(StateNames.DeadLetterSegment(segmentId), this.GetGrainId(), state);
                _meta.HeadSegment++;
            }
            else
            {
                await _storage.WriteStateAsync(StateNames.DeadLetterSegment(segmentId), this.GetGrainId(), state);
            }

            if (segmentId == _meta.TailSegment)
            {
                (_tail, _tailETag, _tailBytes) = (kept, state.ETag, kept.Entries.Sum(EstimateBytes));
            }
        }

        // Empty segments that became the head after the head moved.
        while (_meta.HeadSegment < _meta.TailSegment)
        {
            var (head, etag) = await ReadSegmentAsync(_meta.HeadSegment);
            if (head is not null && head.Entries.Count > 0)
            {
                break;
            }

            if (head is not null)
            {
                await _storage.ClearStateAsync(StateNames.DeadLetterSegment(_meta.HeadSegment), this.GetGrainId(), new GrainState<DeadLetterSegment>(head, etag));
            }

            _meta.HeadSegment++;
        }
    }

    // ------------------------------------------------------------------ scanning

    /// <summary>Entries matching the filter from <paramref name="fromEntryId"/> on, and where to go on (null at the end).</summary>
    private async Task<(List<StoredDeadLetter> Matches, long? Continuation)> ScanAsync(DeadLetterFilter filter, int max, long fromEntryId)
    {
        var matches = new List<StoredDeadLetter>();
        var segmentId = await SegmentOfAsync(fromEntryId);
        for (var scanned = 0; segmentId <= _meta.TailSegment; segmentId++, scanned++)
        {
            if (scanned == MaxSegmentsPerScan)
            {
                return (matches, (await SegmentFirstIdAsync(segmentId)) ?? NextEntryId);
            }

            var segment = segmentId == _meta.TailSegment ? _tail : (await ReadSegmentAsync(segmentId)).Segment;
            foreach (var entry in segment?.Entries ?? [])
            {
                if (entry.EntryId < fromEntryId || !filter.Matches(ToEntry(entry, withBody: false)))
                {
                    continue;
                }

                if (matches.Count == max)
                {
                    return (matches, entry.EntryId);
                }

                matches.Add(entry);
            }
        }

        return (matches, null);
    }

    private async Task<StoredDeadLetter?> FindAsync(long entryId)
    {
        var segmentId = await SegmentOfAsync(entryId);
        var segment = segmentId == _meta.TailSegment ? _tail : (await ReadSegmentAsync(segmentId)).Segment;
        return segment?.Entries.Find(e => e.EntryId == entryId);
    }

    private async Task<List<long>> SegmentsOfAsync(HashSet<long> entryIds)
    {
        var segments = new SortedSet<long>();
        foreach (var id in entryIds)
        {
            segments.Add(await SegmentOfAsync(id));
        }

        return [.. segments];
    }

    /// <summary>The segment that holds (or would hold) <paramref name="entryId"/>: binary search on first ids.</summary>
    private async Task<long> SegmentOfAsync(long entryId)
    {
        var (lo, hi) = (_meta.HeadSegment, _meta.TailSegment);
        while (lo < hi)
        {
            var mid = lo + (hi - lo + 1) / 2;
            var first = await SegmentFirstIdAsync(mid);
            if (first is null || first <= entryId)
            {
                lo = mid;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return lo;
    }

    private async Task<long?> SegmentFirstIdAsync(long segmentId) =>
        segmentId == _meta.TailSegment ? _tail.FirstEntryId : (await ReadSegmentAsync(segmentId)).Segment?.FirstEntryId;

    // ------------------------------------------------------------------ storage and conversions

    private async Task<(DeadLetterSegment? Segment, string? ETag)> ReadSegmentAsync(long id)
    {
        var state = new GrainState<DeadLetterSegment>();
        await StorageReadErrors.ReadStateAsync(_storage, _storageName, StateNames.DeadLetterSegment(id), this.GetGrainId(), state);
        return state.RecordExists && state.State is not null ? (state.State, state.ETag) : (null, null);
    }

    private async Task WriteMetaAsync()
    {
        var state = new GrainState<DeadLetterMeta>(_meta, _metaETag);
        try
        {
            await _storage.WriteStateAsync(StateNames.DeadLetterMeta, this.GetGrainId(), state);
        }
        catch
        {
            DeactivateOnIdle();
            throw;
        }

        _metaETag = state.ETag;
        _depth?.Set(_meta.CountBySourceQueue); // counts change only together with a meta write
    }

    private void Count(StoredDeadLetter entry, int delta)
    {
        Bump(_meta.CountByReason, entry.Reason, delta);
        Bump(_meta.CountBySourceQueue, entry.SourceQueue, delta);
    }

    private static void Bump<TKey>(Dictionary<TKey, long> counts, TKey key, int delta) where TKey : notnull
    {
        var value = counts.GetValueOrDefault(key) + delta;
        if (value > 0)
        {
            counts[key] = value;
        }
        else
        {
            counts.Remove(key);
        }
    }

    private void RememberMove(Guid moveId, long entryId)
    {
        _moveIds[moveId] = entryId;
        _moveIdOrder.Enqueue(moveId);
        while (_moveIdOrder.Count > MoveIdsKept)
        {
            _moveIds.Remove(_moveIdOrder.Dequeue());
        }
    }

    private static long EstimateBytes(StoredDeadLetter entry) =>
        SegmentSizing.EstimateBytes(entry.Message) + 512 + 2L * ((entry.Description?.Length ?? 0) + (entry.ErrorType?.Length ?? 0) + (entry.ErrorMessage?.Length ?? 0)) + 16L * entry.Attempts.Count;

    private StoredDeadLetter ToStored(DeadLetterEntry entry, long entryId, Guid moveId) => new()
    {
        EntryId = entryId,
        Message = new StoredMessage
        {
            Id = entry.Message.MessageId,
            Seq = entry.Message.SequenceNumber,
            Body = entry.Message.Body,
            ContentType = entry.Message.ContentType,
            Headers = entry.Message.Headers is { Count: > 0 } h ? new Dictionary<string, string>(h) : null,
            EnqueuedAt = entry.Message.EnqueuedTime,
        },
        DeliveryCount = entry.Message.DeliveryCount,
        SourceQueue = entry.SourceQueue,
        Reason = entry.Reason,
        Description = Truncate(entry.Description, 1024),
        ErrorType = Truncate(entry.LastExceptionType, 512),
        ErrorMessage = Truncate(entry.LastExceptionMessage, 1024),
        Attempts = entry.Attempts.TakeLast(QueueCore.MaxAttemptsKept).Select(a => a.ToUnixTimeMilliseconds()).ToList(),
        At = entry.DeadLetteredAt == default ? _time.GetUtcNow() : entry.DeadLetteredAt,
        MoveId = moveId,
    };

    private static DeadLetterEntry ToEntry(StoredDeadLetter stored, bool withBody = true) => new()
    {
        EntryId = stored.EntryId,
        Message = QueueCore.ToQueueMessage(withBody ? stored.Message : new StoredMessage { Id = stored.Message.Id, Seq = stored.Message.Seq }, stored.DeliveryCount),
        SourceQueue = stored.SourceQueue,
        Reason = stored.Reason,
        Description = stored.Description,
        LastExceptionType = stored.ErrorType,
        LastExceptionMessage = stored.ErrorMessage,
        Attempts = stored.Attempts.Select(DateTimeOffset.FromUnixTimeMilliseconds).ToArray(),
        DeadLetteredAt = stored.At,
    };

    private static string? Truncate(string? value, int max) => value is { Length: > 0 } && value.Length > max ? value[..max] : value;

    [LoggerMessage(20, LogLevel.Information, "Dead-letter entry {EntryId}: message {MessageId} from queue {Queue} ({Reason})")]
    private partial void LogAdded(long entryId, string queue, string messageId, DeadLetterReason reason);

    [LoggerMessage(21, LogLevel.Information, "Redrove {Count} dead-letter entries to queue {Queue}")]
    private partial void LogRedriven(int count, string queue);
}
