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
using OrleansQueue.Push;
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
    private static readonly TimeSpan MaintenancePeriod = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan MoveRetryDelay = TimeSpan.FromSeconds(5);

    /// <summary>A group commit writing a segment may fill it to this many times SegmentMaxMessages (one write, not two).</summary>
    private const int SegmentStretch = 2;

    /// <summary>How many segments activation reads at once for the active window and the duplicate-detection index.</summary>
    private const int SegmentReadAhead = 8;

    /// <summary>
    /// Segment writes a group commit has in flight at once (a commit of large messages spans several segments, and one
    /// write at a time would leave the storage's other connections idle). A queue's sequence numbers follow each other
    /// without holes (the window and the counts rely on it): a failed write among parallel ones may leave a gap before
    /// segments that landed, and reloading deletes those (<see cref="LogGapRepair.DeleteWhatFollows"/>); their senders
    /// were told the send failed.
    /// </summary>
    private const int SegmentParallelWrites = 4;

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
    private long _stagedBodyBytes;
    private readonly SingleFlightLoop _cleanup;
    private Task? _windowLoad;
    private IGrainTimer? _timer;

    private const string WakeReminder = "oq-wake";
    private static readonly TimeSpan ClientSubscriptionLifetime = TimeSpan.FromMinutes(2);
    private const int MaxSubscriptions = 1000;
    private static readonly TimeSpan MaxClientPause = TimeSpan.FromSeconds(16);
    private readonly Dictionary<string, ConsumerState> _consumers = [];
    private readonly Dictionary<Guid, ConsumerState> _pushes = [];
    private readonly List<TaskCompletionSource> _waiters = [];
    private readonly RecentReceives _recentReceives = new();
    private readonly SingleFlightLoop _dispatch;
    private readonly SingleFlightLoop _moves;
    private bool _reminderRegistered;
    private DateTimeOffset _reminderRetryAt;
    private readonly ConsumerCredit _credit = new();
    private readonly SingleFlightLoop _scheduleMoves;


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
            MaxQueueLength = _options.MaxQueueLength,
            WindowMaxBytes = _options.DeliveryWindowMaxBytes,
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
        _scheduleMoves = new SingleFlightLoop(RunScheduledMovesAsync, () => _generation, ScheduledMovesDue, ScheduledMovesFailed, ArmTimer);
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
        ExpireMessages(core, _time.GetUtcNow()); // expired messages do not count as ready when the window is filled
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
        await GetCoreAsync();
        // The schedule first: a move under way lands in the queue before the queue is purged.
        var removed = await WithScheduleAsync(schedule => schedule.ClearAsync(deleteIndex: false));
        var core = await GetCoreAsync();
        removed += core.Purge();
        PublishDepth();
        await _metaPump!.CommitAsync();
        LogPurged(QueueName, removed);
        StartCleanup();
        return removed;
    }

    public async Task<QueueStats> GetStats()
    {
        var core = await GetCoreAsync();
        var scheduled = await ScheduledCountAsync();
        var now = _time.GetUtcNow();
        ExpireLeases(core, now);
        ExpireMessages(core, now);
        return core.Stats(now) with { ScheduledCount = scheduled };
    }

    // ------------------------------------------------------------------ shared hooks

    private void ExpireLeases(QueueCore core, DateTimeOffset now)
    {
        var expired = core.ExpireLeases(now);
        if (expired > 0)
        {
            RecordAbandoned(expired);
            LogLeasesExpired(QueueName, expired);
            CommitMetaInBackground();
            AfterRelease();
        }
    }

    /// <summary>After a message went back to ready (or started its move): push, wake long polls, move.</summary>
    private void AfterRelease()
    {
        StartMoves();
        ArmTimer();
        OnMessagesReady();
    }

    private void OnMessagesReady()
    {
        foreach (var waiter in _waiters.ToArray())
        {
            waiter.TrySetResult();
        }

        Dispatch();
    }

    private void OnLoaded(QueueCore core)
    {
        foreach (var record in core.Subscriptions)
        {
            TrackConsumer(record);
        }

        StartMoves();
        Dispatch();
        SyncListingInBackground(core);
        if (NeedsWaking(core))
        {
            _ = EnsureReminderAsync(core);
        }

        _ = LoadScheduleInBackgroundAsync(core);
    }

    private void OnInvalidated(Exception error)
    {
        _consumers.Clear();
        _pushes.Clear();
        _dispatch.Reset();
        _moves.Reset();
        _scheduleMoves.Reset();
        foreach (var waiter in _waiters.ToArray())
        {
            waiter.TrySetResult();
        }
    }
}
