using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using Orleans.Runtime;
using Orleans.Storage;
using OrleansQueue.Appending;
using OrleansQueue.DeadLetters;
using OrleansQueue.Delivery;
using OrleansQueue.Diagnostics;
using OrleansQueue.Internal;
using OrleansQueue.Options;
using OrleansQueue.Retention;
using OrleansQueue.Storage;
using MessageLog = OrleansQueue.Storage.SegmentedLog<OrleansQueue.Storage.SegmentState, OrleansQueue.Storage.StoredMessage>;

namespace OrleansQueue.Queues;

/// <summary>
/// The durable queue. Messages live in a <see cref="SegmentedLog{TSegment, TEntry}"/> of bounded segments, stored as
/// chunk records; a small cursor record holds the head, the completion watermark and the delivery state of the active
/// window. Concurrent enqueues are group-committed into one segment
/// write, concurrent settlements into one cursor write, and no call returns before its change is durable.
/// After any failed write the activation drops its in-memory state and reloads from storage (re-read and decide again).
/// </summary>
[Reentrant]
[GrainType(GrainTypes.Queue)]
internal sealed partial class QueueGrain : Grain, IQueueGrain, IQueueRedriveTarget, IRemindable
{
    private sealed class EnqueueRequest(List<PendingMessage> messages, long stagedAt, long bytes)
    {
        public List<PendingMessage> Messages { get; } = messages;

        /// <summary>The estimated stored size of the messages, counted against MaxStagedBytes while they wait.</summary>
        public long Bytes { get; } = bytes;

        /// <summary>When the request joined the pending enqueues (<see cref="TimeProvider.GetTimestamp"/>), for the commit-wait metric.</summary>
        public long StagedAt { get; } = stagedAt;

        public TaskCompletionSource<long[]> Completion { get; } = new();
    }

    private static readonly TimeSpan MaintenancePeriod = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan MoveRetryDelay = TimeSpan.FromSeconds(5);

    /// <summary>A group commit writing a segment may fill it to this many times SegmentMaxMessages (one write, not two).</summary>
    private const int SegmentStretch = 2;

    /// <summary>How many segments activation reads at once for the active window and the duplicate-detection index.</summary>
    private const int SegmentReadAhead = 8;

    /// <summary>
    /// Segment writes a group commit has in flight at once: one, in order. A queue's sequence numbers follow each
    /// other without holes (the window and the counts rely on it), and a failed write among parallel ones could leave one.
    /// </summary>
    private const int SegmentParallelWrites = 1;

    private readonly OrleansQueueOptions _options;
    private readonly QueueCoreLimits _limits;
    private readonly TimeProvider _time;
    private readonly IGrainStorage _storage;
    private readonly ILogger _logger;
    private readonly List<EnqueueRequest> _pendingEnqueues = [];

    private QueueCore? _core;
    private MessageLog? _log;
    private Task? _loading;
    private CommitPump? _metaPump;
    private string? _metaETag;
    private int _generation;
    private readonly SingleFlightLoop _enqueueFlush;
    private int _stagedMessages;
    private long _stagedBytes;
    private readonly SingleFlightLoop _cleanup;
    private Task? _windowLoad;
    private IGrainTimer? _timer;

    public QueueGrain(
        IOptions<OrleansQueueOptions> options,
        [FromKeyedServices(TimeProviderNames.Grains)] TimeProvider time,
        IServiceProvider services,
        ILogger<QueueGrain> logger)
    {
        _options = options.Value;
        _limits = new QueueCoreLimits(_options.SegmentMaxMessages, _options.SegmentMaxBytes, _options.ActiveSegments,
            _options.DuplicateDetectionWindow, _options.DuplicateDetectionMaxIds, _options.MaxDeliveryCount)
        {
            DefaultLockDuration = _options.DefaultLockDuration,
            MaxInFlight = _options.MaxMessagesInFlight,
            ChunkMaxMessages = Math.Min(_options.SegmentChunkMessages, _options.SegmentMaxMessages),
            SegmentStretch = SegmentStretch,
        };
        _time = time;
        _storage = services.GetRequiredKeyedService<IGrainStorage>(_options.StorageName);
        _logger = logger;
        _enqueueFlush = new SingleFlightLoop(RunEnqueueFlushesAsync, () => _generation, () => _pendingEnqueues.Count > 0, Invalidate);
        _cleanup = new SingleFlightLoop(RunCleanupAsync, () => _generation,
            () => _core is { } core && core.DeletableSegments(_time.GetUtcNow()).Any(), CleanupFailed);
        _dispatch = new SingleFlightLoop(DispatchAsync, () => _generation, () => _core is not null && _consumers.Count > 0, DispatchFailed);
        _moves = new SingleFlightLoop(RunMovesAsync, () => _generation, () => _core is { PendingMoves.Count: > 0 }, MoveFailed, ArmTimer);
    }

    private string QueueName => this.GetPrimaryKeyString();

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        QueueLimits.ValidateQueueName(QueueName);
        return Task.CompletedTask;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _timer?.Dispose();
        StopPublishingDepth();
        if (_core is not null && _metaPump is { Pending: true } pump)
        {
            try
            {
                // Completions still lingering for their cursor write: store them now rather than redeliver them later.
                await pump.CommitAsync().WaitAsync(cancellationToken);
            }
            catch (Exception ex)
            {
                LogDeactivationCommitFailed(ex, QueueName); // harmless: those messages are delivered again
                RecordError("deactivation");
            }
        }
    }

    // ------------------------------------------------------------------ enqueue

    public Task<long[]> Enqueue(OutgoingMessage[] messages) => EnqueueCoreAsync(messages, null);

    public Task<long[]> EnqueueRedriven(OutgoingMessage[] messages, string[] dedupKeys)
    {
        if (dedupKeys is null || messages is null || dedupKeys.Length != messages.Length)
        {
            throw new QueueException(QueueErrorCode.InvalidBatch, "Every redriven message needs one duplicate-detection key.");
        }

        return EnqueueCoreAsync(messages, dedupKeys);
    }

    private async Task<long[]> EnqueueCoreAsync(OutgoingMessage[] messages, string[]? dedupKeys)
    {
        using var activity = StartActivity("enqueue");
        QueueLimits.ValidateBatch(messages, _options.MaxMessageBodyBytes, _options.MaxBatchCount, _options.MaxBatchBodyBytes);
        var core = await GetCoreAsync();
        var traceParent = CurrentTraceParent();
        if (messages.Length > 1)
        {
            activity?.SetTag("batch.size", messages.Length);
        }

        var result = new long[messages.Length];
        var pending = new List<PendingMessage>(messages.Length);
        var pendingIndex = new List<int>(messages.Length);
        for (var i = 0; i < messages.Length; i++)
        {
            var id = messages[i].MessageId ?? RandomIds.NewGuid().ToString("N");
            var message = new PendingMessage(messages[i], id, SegmentSizing.EstimateBytes(messages[i], id, traceParent, dedupKeys?[i]), dedupKeys?[i], traceParent);
            if (messages.Length == 1)
            {
                activity?.SetTag("message.id", id);
            }

            if (core.TryGetDuplicate(message.Key, out var existing))
            {
                result[i] = existing;
                continue;
            }

            pending.Add(message);
            pendingIndex.Add(i);
        }

        if (pending.Count == 0)
        {
            return result;
        }

        // NextSeq - AckedBelow bounds the length from above in O(1); count exactly only near the limit.
        var staged = _stagedMessages;
        if (core.ActiveUpperBound + staged + pending.Count > _options.MaxQueueLength
            && core.ActiveCount + staged + pending.Count > _options.MaxQueueLength)
        {
            var queued = core.ActiveCount + staged;
            throw new QueueException(QueueErrorCode.QueueFull,
                $"Queue '{QueueName}' holds {queued} of at most {_options.MaxQueueLength} messages; the {pending.Count} new message(s) do not fit. Nothing was stored.");
        }

        long bytes = 0;
        foreach (var message in pending)
        {
            bytes += message.EstimatedBytes;
        }

        if (_stagedBytes > 0 && _stagedBytes + bytes > _options.MaxStagedBytes)
        {
            throw new QueueException(QueueErrorCode.ServerBusy,
                $"Queue '{QueueName}' has {_stagedBytes} bytes of sends waiting for storage (at most {_options.MaxStagedBytes}); nothing was stored. Retry in a moment.");
        }

        var request = new EnqueueRequest(pending, _time.GetTimestamp(), bytes);
        _pendingEnqueues.Add(request);
        _stagedMessages += pending.Count;
        _stagedBytes += bytes;
        _enqueueFlush.Start();

        var sequences = await request.Completion.Task;
        for (var i = 0; i < sequences.Length; i++)
        {
            result[pendingIndex[i]] = sequences[i];
        }

        return result;
    }

    /// <summary>Writes pending enqueues, many callers per write, until none is left. One runs at a time.</summary>
    private async Task RunEnqueueFlushesAsync(int generation)
    {
        Activity.Current = null; // the writes serve every caller, not the one whose send started the loop
        while (generation == _generation && _pendingEnqueues.Count > 0)
        {
            var take = 0;
            var count = 0;
            while (take < _pendingEnqueues.Count && (take == 0 || count + _pendingEnqueues[take].Messages.Count <= _options.GroupCommitMaxMessages))
            {
                count += _pendingEnqueues[take].Messages.Count;
                take++;
            }

            var requests = _pendingEnqueues.GetRange(0, take);
            var batch = requests.SelectMany(r => r.Messages).ToList();
            var core = _core!;
            var log = _log!;
            var now = _time.GetUtcNow();
            // Push consumers waiting with credit get the new messages leased in the same write that stores them:
            // the first delivery is as durable as the message, and no cursor write stands before the push.
            DropExpiredSubscriptions(core, now);
            if (core.ParkHeldHeads(now) > 0)
            {
                LogParked(QueueName, core.HeadSegment - 1, core.ParkedCount); // stragglers keep no room in the window or the cursor
            }

            var credit = _consumers.Count > 0 && core.CanLeaseOnAppend(now) ? TakeCredit(batch.Count) : [];
            var plan = core.PlanAppend(log.BeginAppend(), batch, now, credit.Count, core.LockDuration);
            ReturnCredit(credit, plan.LeasedOnAppend);
            var createdSegment = plan.Segments.Any(s => s.Id != core.Tail.Id);
            var leases = new List<Lease>(plan.LeasedOnAppend);
            var writeStart = _time.GetTimestamp();
            try
            {
                // Each segment's last chunk only: a new chunk record, or the small last one rewritten by its ETag.
                var written = await log.WriteAsync(plan.Segments, segment =>
                {
                    if (generation != _generation)
                    {
                        return false; // invalidated meanwhile: the requests were failed there
                    }

                    leases.AddRange(core.SegmentWritten(segment, now));
                    return true;
                });
                if (!written)
                {
                    return;
                }
            }
            catch (Exception ex)
            {
                Invalidate(ex);
                return;
            }

            RecordCommit(requests, plan.NewMessages.Count, writeStart);
            _pendingEnqueues.RemoveRange(0, take);
            _stagedMessages -= batch.Count;
            foreach (var request in requests)
            {
                _stagedBytes -= request.Bytes;
            }

            var offset = 0;
            foreach (var request in requests)
            {
                request.Completion.TrySetResult(plan.Sequences[offset..(offset + request.Messages.Count)]);
                offset += request.Messages.Count;
            }

            LogEnqueued(QueueName, plan.NewMessages.Count, requests.Count, plan.Segments.Count);
            RecordEnqueued(plan.NewMessages.Count);
            ReturnCredit(credit, leases.Count); // none back, unless a segment did not join the window
            if (leases.Count > 0)
            {
                RecordLeases(leases);
                ArmTimer();
                StartPushes(leases, credit, generation);
            }

            OnMessagesReady();
            if (createdSegment)
            {
                // Keep the cursor's tail hint close, so activation probes few segments. Nobody waits on it.
                CommitMetaInBackground();
            }
        }
    }

    // ------------------------------------------------------------------ receive and settle

    public async Task<ReceivedMessage[]> Receive(int maxMessages, TimeSpan? lockDuration)
    {
        QueueLimits.ValidateCount(maxMessages, _options.MaxBatchCount, nameof(maxMessages));
        if (lockDuration is { } requested)
        {
            QueueLimits.ValidateLockDuration(requested, _options.MaxLockDuration);
        }

        var core = await GetCoreAsync();
        var generation = _generation;
        await FillWindowAsync(maxMessages);
        EnsureGeneration(generation);

        var now = _time.GetUtcNow();
        ExpireLeases(core, now);
        var leases = core.Lease(maxMessages, lockDuration ?? core.LockDuration, now);
        RecordLeases(leases);
        RecordInFlightLimit(core, maxMessages, leases.Count);
        if (leases.Count == 0)
        {
            return [];
        }

        ArmTimer();
        var deliveries = StartDeliveries(leases, "receive");
        Exception? failure = null;
        try
        {
            await _metaPump!.CommitAsync(); // the leases are durable before they are handed out
        }
        catch (Exception ex)
        {
            failure = ex;
            throw;
        }
        finally
        {
            EndDeliveries(deliveries, _ => failure?.GetType().FullName);
        }

        return leases.Select(l => new ReceivedMessage
        {
            Message = MessageViews.ToQueueMessage(l.Message, l.DeliveryCount),
            LockToken = l.Token,
            LockedUntil = l.LockedUntil,
        }).ToArray();
    }

    public async Task Complete(Guid[] lockTokens)
    {
        QueueLimits.ValidateCount(lockTokens?.Length ?? 0, _options.MaxBatchCount, "The number of lock tokens");
        var core = await GetCoreAsync();
        ExpireLeases(core, _time.GetUtcNow());
        var headBefore = core.HeadSegment;
        RecordCompleted(core.Complete(lockTokens!));
        await _metaPump!.CommitAsync();
        if (core.HeadSegment != headBefore)
        {
            StartCleanup();
            OnMessagesReady(); // the window can take messages further back
        }
    }

    public async Task Abandon(Guid lockToken)
    {
        var core = await GetCoreAsync();
        var now = _time.GetUtcNow();
        ExpireLeases(core, now);
        core.Abandon(lockToken, now);
        RecordAbandoned(1);
        await _metaPump!.CommitAsync();
        AfterRelease();
    }

    public async Task<DateTimeOffset> RenewLock(Guid lockToken, TimeSpan? lockDuration)
    {
        if (lockDuration is { } requested)
        {
            QueueLimits.ValidateLockDuration(requested, _options.MaxLockDuration);
        }

        var core = await GetCoreAsync();
        var now = _time.GetUtcNow();
        ExpireLeases(core, now);
        var until = core.Renew(lockToken, lockDuration ?? core.LockDuration, now);
        await _metaPump!.CommitAsync();
        return until;
    }

    // ------------------------------------------------------------------ browse, purge, stats

    public async Task<QueueMessage[]> Peek(int maxMessages, long fromSequenceNumber, CancellationToken cancellationToken)
    {
        QueueLimits.ValidateCount(maxMessages, _options.MaxBatchCount, nameof(maxMessages));
        var core = await GetCoreAsync();
        var generation = _generation;
        var from = Math.Max(fromSequenceNumber, core.AckedBelow);
        var result = core.PeekWindow(from, maxMessages);
        if (result.Count >= maxMessages || core.LoadedThrough >= core.Tail.Id)
        {
            return [.. result];
        }

        // Beyond the window: from the segment holding `start` (the log finds it by binary search) on.
        var start = Math.Max(from, result.Count > 0 ? result[^1].SequenceNumber + 1 : from);
        await _log!.ScanAsync(start, int.MaxValue, message =>
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (result.Count >= maxMessages)
            {
                return false;
            }

            if (message.Seq >= core.AckedBelow)
            {
                result.Add(MessageViews.ToQueueMessage(message, 0));
            }

            return true;
        });
        EnsureGeneration(generation);
        return [.. result];
    }

    public async Task<long> Purge()
    {
        var core = await GetCoreAsync();
        var removed = core.Purge();
        PublishDepth();
        await _metaPump!.CommitAsync();
        LogPurged(QueueName, removed);
        StartCleanup();
        return removed;
    }

    public async Task<QueueStats> GetStats()
    {
        var core = await GetCoreAsync();
        var now = _time.GetUtcNow();
        ExpireLeases(core, now);
        return core.Stats(now);
    }

    // ------------------------------------------------------------------ loading

    private async Task<QueueCore> GetCoreAsync()
    {
        QueueLimits.ValidateQueueName(QueueName);
        while (_core is null)
        {
            _loading ??= LoadAsync();
            try
            {
                await _loading;
            }
            catch (QueueException)
            {
                _loading = null; // the next call reads again
                throw;
            }
            catch (Exception ex)
            {
                _loading = null;
                throw new QueueException(QueueErrorCode.StorageFailed,
                    $"Reading queue '{QueueName}' from storage failed ({ex.GetType().Name}: {ex.Message}); retry.");
            }
        }

        return _core;
    }

    private async Task LoadAsync()
    {
        var metaState = new GrainState<QueueMetaState>();
        await ReadRecordAsync(StateNames.Meta, metaState);
        var meta = metaState.RecordExists && metaState.State is not null ? metaState.State : new QueueMetaState();
        var now = _time.GetUtcNow();
        var log = new MessageLog(new TimedRecordStore(this, "segment"), StateNames.SegmentChunk, _limits.Segments, SegmentSizing.EstimateBytes,
            SegmentParallelWrites);

        // The tail: the cursor's hint, then probe forward for segments written after the hint. A cursor may name a
        // tail that was never written (a new or purged empty queue): its first message is the next to acknowledge.
        var read = new Dictionary<long, SegmentState>();
        foreach (var found in await log.OpenAsync(meta.RetainedFrom, meta.TailSegment, meta.AckedBelow))
        {
            read[found.Id] = found.Segment;
        }

        var tail = SegmentSnapshot.Of(log.Tail);

        // The in-flight pages: the messages in flight that the window had moved past, with their delivery state.
        var core = new QueueCore(_limits, tail, meta);
        await RestoreInFlightPagesAsync(core, meta, now);

        // The active window, far enough to hold every message the cursor has delivery state for. Segments are read
        // SegmentReadAhead at a time; at most that many are read in vain.
        var mustReach = CursorCodec.HighestRecordedSeq(meta);
        bool WindowWantsMore() => core.LoadedThrough < tail.Id && (core.NextSegmentToLoad is not null || core.NextSeqLoaded() <= mustReach);
        if (WindowWantsMore())
        {
            await log.ReadRunAsync(core.LoadedThrough + 1, tail.Id, SegmentReadAhead, (id, segment) =>
            {
                if (!WindowWantsMore())
                {
                    return false;
                }

                core.AddWindowSegment(id, segment ?? throw MissingSegment(id), now);
                return true;
            }, read);
        }

        core.EndRestore();

        // The duplicate-detection index, from the newest segments back to the window or the id cap.
        if (_limits.DedupEnabled)
        {
            var newestFirst = new List<SegmentState>();
            long ids = 0;
            await log.ReadRunAsync(tail.Id, meta.RetainedFrom, SegmentReadAhead, (id, segment) =>
            {
                if (ids >= _limits.DedupMaxIds)
                {
                    return false;
                }

                if (segment is null)
                {
                    return true; // deleted, but the cursor was not yet advanced past it
                }

                if (segment.Messages.Count > 0 && segment.Messages[^1].EnqueuedAt < now - _limits.DedupWindow)
                {
                    return false;
                }

                newestFirst.Add(segment);
                ids += segment.Messages.Count;
                if (id < core.HeadSegment && segment.Messages.Count > 0)
                {
                    core.AddRetained(new RetainedSegment(id, segment.Messages[^1].Seq, segment.Messages[^1].EnqueuedAt));
                }

                return true;
            }, read);

            for (var i = newestFirst.Count - 1; i >= 0; i--)
            {
                foreach (var message in newestFirst[i].Messages)
                {
                    core.RememberId(message.Id, message.Seq, message.EnqueuedAt);
                }
            }

            core.TrimDedup(now);
        }

        _core = core;
        _log = log;
        _metaETag = metaState.ETag;
        _metaPump = new CommitPump(WriteMetaAsync, Invalidate, _options.CursorWriteDelay);
        _loading = null;
        LogLoaded(QueueName, core.HeadSegment, tail.Id, core.ActiveCount, core.LockedCount);
        PublishDepth();
        ArmTimer();
        StartCleanup();
        OnLoaded(core);
    }

    /// <summary>
    /// Reads the in-flight pages the cursor names, and any written after it (by a write whose cursor write never
    /// happened), SegmentReadAhead at a time.
    /// </summary>
    private async Task RestoreInFlightPagesAsync(QueueCore core, QueueMetaState meta, DateTimeOffset now)
    {
        async Task<(long Id, GrainState<InFlightPageState> State)> ReadPageAsync(long id)
        {
            var state = new GrainState<InFlightPageState>();
            await ReadRecordAsync(StateNames.InFlightPage(id), state);
            return (id, state);
        }

        var id = meta.InFlightPagesFrom;
        var probing = false;
        while (true)
        {
            var batch = new List<Task<(long Id, GrainState<InFlightPageState> State)>>();
            for (var i = 0; i < SegmentReadAhead; i++)
            {
                batch.Add(ReadPageAsync(id++));
            }

            var stop = false;
            foreach (var (pageId, state) in await Task.WhenAll(batch))
            {
                probing |= pageId >= meta.InFlightPagesTo;
                if (state.RecordExists && state.State is not null)
                {
                    if (!stop)
                    {
                        core.RestorePage(pageId, state.State, state.ETag, now);
                    }
                }
                else if (probing)
                {
                    stop = true; // past the cursor's pages: the first missing one ends them
                }
            }

            if (stop)
            {
                return;
            }
        }
    }

    /// <summary>
    /// Loads head segments into the window until it has <paramref name="wanted"/> ready messages or is full. A full
    /// window with nothing ready while more messages wait in storage moves past its head: the head's in-flight
    /// messages are parked (<see cref="QueueCore.TryParkHead"/>), so a held message never blocks the others.
    /// </summary>
    private async Task FillWindowAsync(int wanted)
    {
        while (_core is { } core && core.ReadyInWindow < wanted)
        {
            if (core.NextSegmentToLoad is not { } id)
            {
                if (!core.TryParkHead(_time.GetUtcNow()))
                {
                    break;
                }

                LogParked(QueueName, core.HeadSegment - 1, core.ParkedCount);
                continue;
            }

            if (_windowLoad is { } running)
            {
                await running;
                continue;
            }

            _windowLoad = LoadWindowSegmentAsync(core, _log!, id, _generation);
            try
            {
                await _windowLoad;
            }
            finally
            {
                _windowLoad = null;
            }
        }
    }

    private async Task LoadWindowSegmentAsync(QueueCore core, MessageLog log, long id, int generation)
    {
        SegmentState segment;
        try
        {
            segment = await log.ReadAsync(id) ?? throw MissingSegment(id);
        }
        catch (Exception ex) when (ex is not QueueException and not InvalidOperationException)
        {
            throw new QueueException(QueueErrorCode.StorageFailed,
                $"Reading segment {id} of queue '{QueueName}' failed ({ex.GetType().Name}: {ex.Message}); retry.");
        }

        if (generation == _generation && core.NextSegmentToLoad == id)
        {
            core.AddWindowSegment(id, segment, _time.GetUtcNow());
        }
    }

    /// <summary>Reads one of the queue's records; a record written in another encoding fails with an error naming the setting.</summary>
    private Task ReadRecordAsync<T>(string stateName, IGrainState<T> state) =>
        StorageReadErrors.ReadStateAsync(_storage, _options.StorageName, stateName, this.GetGrainId(), state);

    // ------------------------------------------------------------------ cursor writes, failures

    private async Task WriteMetaAsync()
    {
        var generation = _generation;
        var core = _core!;
        var log = _log!;
        if (core.ParkHeldHeads(_time.GetUtcNow()) > 0)
        {
            LogParked(QueueName, core.HeadSegment - 1, core.ParkedCount); // their delivery records leave the cursor
        }

        if (core.ParkWhileCursorOverBudget() is > 0 and var parked)
        {
            LogParkedForCursor(QueueName, parked, core.ParkedCount);
        }

        var pages = core.DirtyPages();
        var meta = core.ToMeta();
        // In-flight pages first, one at a time in id order: the cursor that moves its head past parked messages is
        // written only once they are stored, and a probe at activation finds every page written after the cursor.
        foreach (var page in pages)
        {
            var pageState = new GrainState<InFlightPageState>(page.State ?? new InFlightPageState(), page.ETag);
            if (page.State is not null)
            {
                await WriteTimedAsync("inflight", StateNames.InFlightPage(page.Id), pageState);
            }
            else if (page.ETag is not null)
            {
                await _storage.ClearStateAsync(StateNames.InFlightPage(page.Id), this.GetGrainId(), pageState);
                pageState.ETag = null;
            }

            if (generation != _generation)
            {
                return;
            }

            core.PageWritten(page, pageState.ETag);
        }

        var state = new GrainState<QueueMetaState>(meta, _metaETag);
        await WriteTimedAsync("cursor", StateNames.Meta, state);
        if (generation == _generation)
        {
            _metaETag = state.ETag;
            core.CursorWritten(meta);
            log.CursorStored(meta.TailSegment);
        }
    }

    /// <summary>
    /// A cursor write that nobody waits on (a tail hint, renewals, expiries, deletions): it lingers like pushed
    /// completions, so under load one write carries them all instead of each starting its own.
    /// </summary>
    private void CommitMetaInBackground()
    {
        if (_metaPump is { } pump)
        {
            pump.CommitSoonAsync().ContinueWith(
                static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        }
    }

    /// <summary>Drops all in-memory state after a failed write; the next call reloads from storage.</summary>
    private void Invalidate(Exception failure)
    {
        LogStorageFailure(failure, QueueName, failure is InconsistentStateException);
        _generation++;
        _core = null;
        _log = null;
        _loading = null;
        _windowLoad = null;
        _enqueueFlush.Reset();
        _cleanup.Reset();
        var error = new QueueException(QueueErrorCode.StorageFailed,
            $"A storage write of queue '{QueueName}' failed ({failure.GetType().Name}: {failure.Message}); the queue reloads its state. The outcome is unknown: retry.");
        _metaPump?.Break(error);
        _metaPump = null;
        var pending = _pendingEnqueues.ToArray();
        _pendingEnqueues.Clear();
        _stagedMessages = 0;
        _stagedBytes = 0;
        foreach (var request in pending)
        {
            request.Completion.TrySetException(error);
        }

        _timer?.Dispose();
        _timer = null;
        OnInvalidated(error);
    }

    private void EnsureGeneration(int generation)
    {
        if (generation != _generation)
        {
            throw new QueueException(QueueErrorCode.StorageFailed,
                $"Queue '{QueueName}' reloaded its state from storage while the call ran; retry.");
        }
    }

    private Exception MissingSegment(long id) =>
        new InvalidOperationException($"Queue '{QueueName}': segment {id}, between the head and the tail, is missing from storage '{_options.StorageName}'.");

    // ------------------------------------------------------------------ timer: lease expiry and retention

    private void ArmTimer()
    {
        if (_core is not { } core)
        {
            return;
        }

        var now = _time.GetUtcNow();
        var due = core.NextWakeUp() is { } wake ? wake - now : MaintenancePeriod;
        if (PushRenewalDue(core) is { } renewal && renewal - now < due)
        {
            due = renewal - now;
        }

        foreach (var consumer in _consumers.Values)
        {
            if (consumer.Paused && consumer.PausedUntil - now < due)
            {
                due = consumer.PausedUntil - now;
            }
        }

        if (core.PendingMoves.Count > 0 && !_moves.IsRunning && MoveRetryDelay < due)
        {
            due = MoveRetryDelay; // the dead-letter grain was unreachable: try the stored moves again soon
        }

        due = TimeSpan.FromTicks(Math.Clamp(due.Ticks, TimeSpan.FromMilliseconds(1).Ticks, MaintenancePeriod.Ticks));
        if (_timer is null)
        {
            _timer = this.RegisterGrainTimer(OnTimerAsync, new GrainTimerCreationOptions(due, Timeout.InfiniteTimeSpan) { Interleave = true });
        }
        else
        {
            _timer.Change(due, Timeout.InfiniteTimeSpan);
        }
    }

    private Task OnTimerAsync(CancellationToken cancellationToken)
    {
        try
        {
            OnTimer();
        }
        finally
        {
            ArmTimer(); // whatever failed, the timer keeps the locks renewed and the deadlines kept
        }

        return Task.CompletedTask;
    }

    private void OnTimer()
    {
        if (_core is { } core)
        {
            var now = _time.GetUtcNow();
            RenewPushes(core, now);
            ExpireLeases(core, now);
            foreach (var consumer in _consumers.Values)
            {
                consumer.Paused &= consumer.PausedUntil > now;
            }

            core.ReleaseDelayed(now);
            OnMessagesReady();
            StartMoves();
            core.TrimDedup(now);
            StartCleanup();
            SyncListingInBackground(core);
            if (!_reminderRegistered && (core.Subscriptions.Count > 0 || core.LockedCount > 0 || core.PendingMoves.Count > 0))
            {
                _ = EnsureReminderAsync(core); // an earlier registration failed: try again
            }
        }
    }

    private void StartCleanup() => _cleanup.Start();

    /// <summary>Deletes completed segments whose ids are past duplicate detection, oldest first, then records it in the cursor.</summary>
    private async Task RunCleanupAsync(int generation)
    {
        var (deleted, failure) = await SegmentCleaner.DeleteExpiredAsync(_core!, _log!, _time, () => generation == _generation);
        if (failure is not null)
        {
            CleanupFailed(failure); // harmless: nothing was recorded, and the next pass reads the segment again
        }

        if (deleted > 0 && generation == _generation)
        {
            LogSegmentsDeleted(QueueName, deleted);
            CommitMetaInBackground();
        }
    }

    private void CleanupFailed(Exception exception)
    {
        LogCleanupFailed(exception, QueueName);
        RecordError("cleanup");
    }
}
