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
    private readonly MoveIdIndex _moveIds = new();

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
            new SegmentLimits(Limits.SegmentMaxEntries, Limits.SegmentMaxBytes), DeadLetterRecords.EstimateBytes, ParallelWrites);

        // The tail: the hint, then any newer segments. Entries past CountedThrough were added after the last count.
        var newest = await _log.OpenAsync(_meta.HeadSegment, _meta.TailSegment, Math.Max(_meta.NextEntryId, _meta.CountedThrough + 1));
        var changed = false;
        foreach (var entry in newest.SelectMany(s => s.Segment.Entries).Where(e => e.EntryId > _meta.CountedThrough))
        {
            DeadLetterCounts.Apply(_meta, entry, +1);
            changed = true;
        }

        _meta.CountedThrough = _log.NextId - 1;

        // Move ids for idempotent adds: the newest entries, up to the cap, remembered oldest first.
        _moveIds.Clear();
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
            return kept < MoveIdIndex.Capacity;
        });
        for (var i = recent.Count - 1; i >= 0; i--)
        {
            foreach (var entry in recent[i].Entries)
            {
                _moveIds.Remember(entry.MoveId, entry.EntryId);
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
            if (_moveIds.TryGet(move.MoveId, out var existing) || inThisBatch?.TryGetValue(move.MoveId, out existing) == true)
            {
                ids[i] = existing;
                continue;
            }

            var stored = DeadLetterRecords.ToStored(move.Entry, next++, move.MoveId, _time.GetUtcNow());
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
            _moveIds.Remember(entry.MoveId, entry.EntryId);
            DeadLetterCounts.Apply(_meta, entry, +1);
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
        return new DeadLetterPage { Entries = matches.Select(m => DeadLetterRecords.ToEntry(m)).ToArray(), ContinuationEntryId = continuation };
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

                if (!filter.Matches(DeadLetterRecords.ToEntry(entry, withBody: false)))
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
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
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
}
