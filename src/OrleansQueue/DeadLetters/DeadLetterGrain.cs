using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Storage;
using OrleansQueue.Delivery;
using OrleansQueue.Diagnostics;
using OrleansQueue.Internal;
using OrleansQueue.Options;
using OrleansQueue.Storage;

namespace OrleansQueue.DeadLetters;

/// <summary>
/// The cluster-wide dead-letter grain. Entries live in a <see cref="SegmentedLog{TSegment, TEntry}"/> of bounded
/// segment records in id order; a delete rewrites its segment (holes are fine) and empty head segments are deleted.
/// Counts are kept in the cursor record (<c>oq-dl-meta</c>): written ahead of deletes (pending deletes are applied
/// again after a crash) and behind adds (entries past <c>CountedThrough</c> are counted when found at load), so they
/// stay exact. Adds write the cursor only once they are several segments past its tail hint, so a batch of moves
/// costs the segment writes it fills.
/// Any failed storage call drops the in-memory state: the next call reads everything again.
/// </summary>
[GrainType(GrainTypes.DeadLetters)]
internal sealed partial class DeadLetterGrain : Grain, IDeadLetterGrain, IDeadLetterStore
{
    private const int MoveIdsKept = 100_000;
    private const int MaxEntriesPerCall = 1000;
    private const int MaxMovesPerAdd = 10_000;
    private const int ReadAhead = 8;

    /// <summary>
    /// Segment writes an add has in flight at once: entry ids may have holes, so a failed one may leave a gap before
    /// others that landed, which opening the log fills.
    /// </summary>
    private const int ParallelWrites = 8;

    /// <summary>Segments an add may start past the cursor's tail hint before it writes the cursor: what a load probes at most.</summary>
    private const int TailHintLag = 8;

    private readonly OrleansQueueOptions _options;
    private readonly IGrainStorage _storage;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Dictionary<Guid, long> _moveIds = [];
    private readonly Queue<Guid> _moveIdOrder = new();

    private ILogRecordStore _store = null!;
    private SegmentedLog<DeadLetterSegment, StoredDeadLetter> _log = null!;
    private DeadLetterMeta _meta = new();
    private string? _metaETag;
    private bool _loaded;
    private QueueInstruments.DeadLetterDepth? _depth;

    public DeadLetterGrain(
        IOptions<OrleansQueueOptions> options,
        [FromKeyedServices(TimeProviderNames.Grains)] TimeProvider time,
        IServiceProvider services,
        ILogger<DeadLetterGrain> logger)
    {
        _options = options.Value;
        _storage = services.GetRequiredKeyedService<IGrainStorage>(_options.StorageName);
        _time = time;
        _logger = logger;
    }

    private DeadLetterOptions Limits => _options.DeadLetters;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _store = new GrainRecordStore(_storage, _options.StorageName, this.GetGrainId());
        _depth = QueueInstruments.TrackDeadLetters();
        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _depth?.Dispose();
        return Task.CompletedTask;
    }

    // ------------------------------------------------------------------ load

    private async Task EnsureLoadedAsync()
    {
        if (_loaded)
        {
            return;
        }

        try
        {
            await LoadAsync();
        }
        catch (Exception ex)
        {
            throw StorageFailed(ex, "reading the dead-letter grain");
        }

        _loaded = true;
    }

    private async Task LoadAsync()
    {
        (var meta, _metaETag) = await _store.ReadAsync<DeadLetterMeta>(StateNames.DeadLetterMeta);
        _meta = meta ?? new DeadLetterMeta();
        _log = new SegmentedLog<DeadLetterSegment, StoredDeadLetter>(_store, static (id, _) => StateNames.DeadLetterSegment(id),
            new SegmentLimits(Limits.SegmentMaxEntries, Limits.SegmentMaxBytes), EstimateBytes, ParallelWrites);

        // The tail: the hint, then any newer segments. Entries past CountedThrough were added after the last count.
        var newest = await _log.OpenAsync(_meta.HeadSegment, _meta.TailSegment, Math.Max(_meta.NextEntryId, _meta.CountedThrough + 1));
        var changed = false;
        foreach (var entry in newest.SelectMany(s => s.Segment.Entries).Where(e => e.EntryId > _meta.CountedThrough))
        {
            Count(entry, +1);
            changed = true;
        }

        _meta.CountedThrough = _log.NextId - 1;

        // Move ids for idempotent adds: the newest entries, up to the cap, remembered oldest first.
        _moveIds.Clear();
        _moveIdOrder.Clear();
        var recent = new List<DeadLetterSegment>();
        var kept = 0;
        await _log.ReadRunAsync(_log.TailSegment, _log.HeadSegment, ReadAhead, (_, segment) =>
        {
            if (segment is null)
            {
                return true;
            }

            recent.Add(segment);
            kept += segment.Entries.Count;
            return kept < MoveIdsKept;
        });
        for (var i = recent.Count - 1; i >= 0; i--)
        {
            foreach (var entry in recent[i].Entries)
            {
                RememberMove(entry.MoveId, entry.EntryId);
            }
        }

        if (_meta.PendingDeletes.Count > 0)
        {
            // Counted already (written ahead); removing entries that are gone changes nothing.
            await _log.RemoveAsync(await _log.FindAsync(_meta.PendingDeletes));
            _meta.PendingDeletes = [];
            changed = true;
        }

        if (changed || _meta.NextEntryId != _log.NextId)
        {
            await WriteMetaAsync();
        }

        _depth?.Set(_meta.CountBySourceQueue);
    }

    // ------------------------------------------------------------------ add

    public async Task<long> Add(Guid moveId, DeadLetterEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return (await AddBatch([new DeadLetterMove(moveId, entry)]))[0];
    }

    public async Task<long[]> AddBatch(DeadLetterMove[] moves)
    {
        ArgumentNullException.ThrowIfNull(moves);
        QueueLimits.ValidateCount(moves.Length, MaxMovesPerAdd, "The number of moves");
        await EnsureLoadedAsync();
        var ids = new long[moves.Length];
        var added = new List<StoredDeadLetter>();
        Dictionary<Guid, long>? inThisBatch = null;
        var next = _log.NextId;
        for (var i = 0; i < moves.Length; i++)
        {
            var move = moves[i] ?? throw new ArgumentException("A move is null.", nameof(moves));
            if (_moveIds.TryGetValue(move.MoveId, out var existing) || inThisBatch?.TryGetValue(move.MoveId, out existing) == true)
            {
                ids[i] = existing;
                continue;
            }

            var stored = ToStored(move.Entry, next++, move.MoveId);
            added.Add(stored);
            (inThisBatch ??= [])[move.MoveId] = stored.EntryId;
            ids[i] = stored.EntryId;
        }

        if (added.Count == 0)
        {
            return ids;
        }

        try
        {
            await _log.AppendAsync(added);
        }
        catch (Exception ex)
        {
            throw StorageFailed(ex, "storing dead-letter entries"); // entries written before the failure are found at the reload
        }

        foreach (var entry in added)
        {
            RememberMove(entry.MoveId, entry.EntryId);
            Count(entry, +1);
        }

        _meta.CountedThrough = _log.NextId - 1;
        if (_log.TailSegment - _log.StoredTailHint >= TailHintLag)
        {
            // Keeps the tail hint close, so a load probes few segments; the counts of adds since are found past it.
            await WriteMetaOrDropAsync("storing the dead-letter cursor");
        }

        _depth?.Set(_meta.CountBySourceQueue);
        LogAdded(added.Count, added[0].EntryId, added[^1].EntryId);
        return ids;
    }

    // ------------------------------------------------------------------ browse, stats

    public async Task<DeadLetterPage> Browse(DeadLetterFilter filter, int pageSize, long fromEntryId, CancellationToken cancellationToken)
    {
        QueueLimits.ValidateCount(pageSize, MaxEntriesPerCall, nameof(pageSize));
        ArgumentNullException.ThrowIfNull(filter);
        await EnsureLoadedAsync();
        var (matches, continuation) = await ScanAsync(filter, pageSize, fromEntryId, long.MaxValue, cancellationToken);
        return new DeadLetterPage { Entries = matches.Select(m => ToEntry(m)).ToArray(), ContinuationEntryId = continuation };
    }

    public async Task<DeadLetterStats> GetStats()
    {
        await EnsureLoadedAsync();
        return new DeadLetterStats
        {
            Count = _meta.CountByReason.Values.Sum(),
            CountByReason = new Dictionary<DeadLetterReason, long>(_meta.CountByReason),
            CountBySourceQueue = new Dictionary<string, long>(_meta.CountBySourceQueue),
        };
    }

    // ------------------------------------------------------------------ redrive, delete, purge

    public async Task<RedriveResult> Redrive(DeadLetterFilter filter, string? targetQueue, int maxMessages, DeadLetterRange range)
    {
        ArgumentNullException.ThrowIfNull(filter);
        ArgumentNullException.ThrowIfNull(range);
        QueueLimits.ValidateCount(maxMessages, MaxEntriesPerCall, nameof(maxMessages));
        if (targetQueue is not null)
        {
            QueueLimits.ValidateQueueName(targetQueue);
        }

        await EnsureLoadedAsync();
        var until = range.UntilEntryId ?? _log.NextId;
        var (matches, continuation) = await ScanAsync(filter, maxMessages, range.FromEntryId, until);
        var redriven = 0;
        foreach (var group in matches.GroupBy(m => targetQueue ?? m.SourceQueue))
        {
            var target = GrainFactory.GetGrain<IQueueRedriveTarget>(group.Key);
            foreach (var batch in RedriveBatches(group))
            {
                var messages = batch.Select(e => new OutgoingMessage(e.Message.Body)
                {
                    MessageId = e.Message.Id,
                    ContentType = e.Message.ContentType,
                    Headers = e.Message.Headers,
                }).ToArray();

                // Deduplicated by the move, not the message id: a redrive repeated after a crash stores one copy, and a
                // message redriven soon after it was first sent is not mistaken for a duplicate of itself.
                var keys = batch.Select(e => $"redrive:{e.MoveId:N}").ToArray();
                await target.EnqueueRedriven(messages, keys);
                redriven += await DeleteAsync(batch.Select(e => e.EntryId).ToList());
                LogRedriven(batch.Count, group.Key);
            }
        }

        return new RedriveResult
        {
            Redriven = redriven,
            More = continuation is not null,
            Next = continuation is { } from ? new DeadLetterRange { FromEntryId = from, UntilEntryId = until } : null,
        };
    }

    public async Task<int> Delete(long[] entryIds)
    {
        ArgumentNullException.ThrowIfNull(entryIds);
        QueueLimits.ValidateCount(entryIds.Length, MaxEntriesPerCall, "The number of entry ids");
        await EnsureLoadedAsync();
        return await DeleteAsync(entryIds);
    }

    public async Task<PurgeResult> Purge(DeadLetterFilter filter, DeadLetterRange range)
    {
        ArgumentNullException.ThrowIfNull(filter);
        ArgumentNullException.ThrowIfNull(range);
        await EnsureLoadedAsync();
        var until = range.UntilEntryId ?? _log.NextId;
        var (matches, continuation) = await ScanAsync(filter, MaxEntriesPerCall, range.FromEntryId, until);
        var purged = await DeleteAsync(matches.Select(m => m.EntryId).ToList());
        return new PurgeResult
        {
            Purged = purged,
            Next = continuation is { } from ? new DeadLetterRange { FromEntryId = from, UntilEntryId = until } : null,
        };
    }

    /// <summary>
    /// Deletes the entries with these ids that exist; returns how many. Write-ahead: the counts and the pending list
    /// go to the cursor first, then the segments, then the list is cleared. A failure anywhere drops the in-memory
    /// state, and the next call's load applies the pending list again, so counts and entries never disagree.
    /// </summary>
    private async Task<int> DeleteAsync(IReadOnlyCollection<long> entryIds)
    {
        if (entryIds.Count == 0)
        {
            return 0;
        }

        try
        {
            var found = await _log.FindAsync(entryIds);
            if (found.Entries.Count == 0)
            {
                return 0;
            }

            foreach (var entry in found.Entries)
            {
                Count(entry, -1);
            }

            _meta.PendingDeletes = found.Entries.Select(e => e.EntryId).ToList();
            await WriteMetaAsync();
            await _log.RemoveAsync(found);
            _meta.PendingDeletes = [];
            await WriteMetaAsync();
            _depth?.Set(_meta.CountBySourceQueue);
            return found.Entries.Count;
        }
        catch (Exception ex)
        {
            throw StorageFailed(ex, "deleting dead-letter entries");
        }
    }

    /// <summary>The entries of one target queue in batches its enqueue accepts: within MaxBatchCount and MaxBatchBodyBytes.</summary>
    private IEnumerable<List<StoredDeadLetter>> RedriveBatches(IEnumerable<StoredDeadLetter> entries)
    {
        var batch = new List<StoredDeadLetter>();
        long bytes = 0;
        foreach (var entry in entries)
        {
            var size = entry.Message.Body.Length;
            if (batch.Count > 0 && (batch.Count >= _options.MaxBatchCount || bytes + size > _options.MaxBatchBodyBytes))
            {
                yield return batch;
                (batch, bytes) = ([], 0);
            }

            batch.Add(entry);
            bytes += size;
        }

        if (batch.Count > 0)
        {
            yield return batch;
        }
    }

    // ------------------------------------------------------------------ scanning

    /// <summary>
    /// Up to <paramref name="max"/> entries matching the filter with ids from <paramref name="fromEntryId"/> up to
    /// <paramref name="untilEntryId"/>, reading at most MaxSegmentsPerCall segments, and where to go on (null at the end).
    /// </summary>
    private async Task<(List<StoredDeadLetter> Matches, long? Continuation)> ScanAsync(
        DeadLetterFilter filter, int max, long fromEntryId, long untilEntryId, CancellationToken cancellationToken = default)
    {
        var matches = new List<StoredDeadLetter>();
        var pastEnd = false;
        long? continuation;
        try
        {
            continuation = await _log.ScanAsync(fromEntryId, Limits.MaxSegmentsPerCall, entry =>
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (entry.EntryId >= untilEntryId)
                {
                    pastEnd = true;
                    return false;
                }

                if (!filter.Matches(ToEntry(entry, withBody: false)))
                {
                    return true;
                }

                if (matches.Count == max)
                {
                    return false;
                }

                matches.Add(entry);
                return true;
            });
        }
        catch (Exception ex)
        {
            throw StorageFailed(ex, "reading dead-letter entries");
        }

        return (matches, pastEnd || continuation >= untilEntryId ? null : continuation);
    }

    // ------------------------------------------------------------------ storage and conversions

    private async Task WriteMetaAsync()
    {
        _meta.HeadSegment = _log.HeadSegment;
        _meta.TailSegment = _log.TailSegment;
        _meta.NextEntryId = _log.NextId;
        _metaETag = await _store.WriteAsync(StateNames.DeadLetterMeta, _meta, _metaETag);
        _log.CursorStored(_meta.TailSegment);
    }

    private async Task WriteMetaOrDropAsync(string what)
    {
        try
        {
            await WriteMetaAsync();
        }
        catch (Exception ex)
        {
            throw StorageFailed(ex, what);
        }
    }

    /// <summary>Drops the in-memory state (the next call reads everything again) and says what failed.</summary>
    private QueueException StorageFailed(Exception exception, string what)
    {
        _loaded = false;
        LogStorageFailed(exception, what);
        return exception as QueueException ?? new QueueException(QueueErrorCode.StorageFailed,
            $"The dead-letter grain failed {what} ({exception.GetType().Name}: {exception.Message}); nothing is lost, retry.");
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
        if (!_moveIds.TryAdd(moveId, entryId))
        {
            return;
        }

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
        Description = DeadLetterNote.Encode(entry.ConsumerReason, entry.Description, 1024),
        ErrorType = Truncate(entry.LastExceptionType, 512),
        ErrorMessage = Truncate(entry.LastExceptionMessage, 1024),
        Attempts = entry.Attempts.TakeLast(DeliveryEntry.MaxAttemptsKept).Select(a => a.ToUnixTimeMilliseconds()).ToList(),
        At = entry.DeadLetteredAt == default ? _time.GetUtcNow() : entry.DeadLetteredAt,
        MoveId = moveId,
    };

    private static DeadLetterEntry ToEntry(StoredDeadLetter stored, bool withBody = true)
    {
        var (consumerReason, description) = DeadLetterNote.Decode(stored.Description);
        return new()
        {
            EntryId = stored.EntryId,
            Message = MessageViews.ToQueueMessage(withBody ? stored.Message : new StoredMessage { Id = stored.Message.Id, Seq = stored.Message.Seq }, stored.DeliveryCount),
            SourceQueue = stored.SourceQueue,
            Reason = stored.Reason,
            ConsumerReason = consumerReason,
            Description = description,
            LastExceptionType = stored.ErrorType,
            LastExceptionMessage = stored.ErrorMessage,
            Attempts = stored.Attempts.Select(DateTimeOffset.FromUnixTimeMilliseconds).ToArray(),
            DeadLetteredAt = stored.At,
        };
    }

    private static string? Truncate(string? value, int max) => value is { Length: > 0 } && value.Length > max ? value[..max] : value;

    [LoggerMessage((int)LogEvent.DeadLettersAdded, LogLevel.Information, "Dead-letter entries {First} to {Last}: {Count} message(s) stored")]
    private partial void LogAdded(int count, long first, long last);

    [LoggerMessage((int)LogEvent.DeadLettersRedriven, LogLevel.Information, "Redrove {Count} dead-letter entries to queue {Queue}")]
    private partial void LogRedriven(int count, string queue);

    [LoggerMessage((int)LogEvent.DeadLetterStorageFailed, LogLevel.Warning, "The dead-letter grain failed {What}; it reads its state from storage again on the next call")]
    private partial void LogStorageFailed(Exception exception, string what);
}
