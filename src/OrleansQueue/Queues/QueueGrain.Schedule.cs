using Microsoft.Extensions.Logging;
using OrleansQueue.Appending;
using OrleansQueue.Delivery;
using OrleansQueue.Scheduling;
using OrleansQueue.Storage;

namespace OrleansQueue.Queues;

/// <summary>
/// Scheduled delivery: messages sent with a <see cref="OutgoingMessage.ScheduledEnqueueTime"/> in the future wait in the
/// queue's schedule (<see cref="ScheduleStore"/>), apart from its log, and join the queue when their time comes (the
/// timer, at most a second late while the queue is active; after a crash, the reminder wakes the queue). Every
/// schedule operation runs alone (<see cref="_scheduleLock"/>).
/// </summary>
internal sealed partial class QueueGrain
{
    /// <summary>The duplicate-detection key of a scheduled message sent into the queue: a move made twice stores it once.</summary>
    private const string ScheduleKeyPrefix = "oq-sched:";

    private static readonly TimeSpan ScheduleRetryDelay = TimeSpan.FromSeconds(5);

    private readonly SemaphoreSlim _scheduleLock = new(1, 1);
    private ScheduleStore? _schedule;
    private DateTimeOffset _scheduleRetryAt;

    public async Task<bool> CancelScheduled(long sequenceNumber)
    {
        await GetCoreAsync();
        var cancelled = await WithScheduleAsync(async schedule =>
        {
            if (await schedule.FindAsync(sequenceNumber) is null)
            {
                return false;
            }

            await schedule.RemoveAsync([sequenceNumber]);
            return true;
        });
        if (cancelled)
        {
            LogScheduledCancelled(QueueName, sequenceNumber);
        }

        return cancelled;
    }

    /// <summary>A call's messages waiting to be stored in the schedule, with the calls that came meanwhile (one append, one index write).</summary>
    private sealed class ScheduleRequest(IReadOnlyList<PendingMessage> pending, DateTimeOffset now, string stored)
    {
        public IReadOnlyList<PendingMessage> Pending { get; } = pending;

        public DateTimeOffset Now { get; } = now;

        public string Stored { get; } = stored;

        public long[] Numbers { get; } = new long[pending.Count];

        public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private readonly List<ScheduleRequest> _pendingSchedules = [];

    /// <summary>
    /// Stores <paramref name="pending"/> (due in the future; no id twice) in the schedule; returns their scheduled
    /// numbers, in order, or the number (scheduled or not) a message of the same id got within the duplicate-detection
    /// window. Calls that wait for the schedule meanwhile are stored together, in one append. Refused with nothing of
    /// it stored (<see cref="QueueErrorCode.QueueFull"/>) when the schedule has no room for them; <paramref name="stored"/>
    /// says what the error adds about messages of the call stored before.
    /// </summary>
    private async Task<long[]> ScheduleAsync(IReadOnlyList<PendingMessage> pending, DateTimeOffset now, string stored)
    {
        var request = new ScheduleRequest(pending, now, stored);
        _pendingSchedules.Add(request);
        try
        {
            await WithScheduleAsync(async schedule =>
            {
                if (request.Completion.Task.IsCompleted)
                {
                    return true; // stored (or failed) with an earlier call's append
                }

                var group = _pendingSchedules.ToList();
                _pendingSchedules.Clear();
                try
                {
                    await AppendScheduledAsync(schedule, group);
                }
                catch (Exception ex)
                {
                    foreach (var other in group.Where(r => r != request))
                    {
                        other.Completion.TrySetException(ex is QueueException ? ex : ScheduleStorageFailed(ex));
                    }

                    throw;
                }

                return true;
            });
        }
        finally
        {
            _pendingSchedules.Remove(request);
        }

        await request.Completion.Task;
        return request.Numbers;
    }

    /// <summary>
    /// Appends the requests' messages in one go (a request whose messages do not fit is refused alone, with
    /// <see cref="QueueErrorCode.QueueFull"/>), then completes each request.
    /// </summary>
    private async Task AppendScheduledAsync(ScheduleStore schedule, List<ScheduleRequest> requests)
    {
        var generation = _generation;
        var core = _core ?? throw Dropped();
        var entries = new List<StoredMessage>();
        var owners = new List<(ScheduleRequest Request, int Index)>();
        var keys = new Dictionary<UInt128, (ScheduleRequest Request, int Index)>();
        var repeats = new List<(ScheduleRequest Request, int Index, ScheduleRequest FirstRequest, int FirstIndex)>();
        var accepted = new List<ScheduleRequest>();
        foreach (var request in requests)
        {
            // Checked again here, with the schedule's recent ids loaded and no other append under way.
            var mine = new List<StoredMessage>();
            var mineOwners = new List<(ScheduleRequest, int)>();
            var mineRepeats = new List<(ScheduleRequest, int, ScheduleRequest, int)>();
            for (var i = 0; i < request.Pending.Count; i++)
            {
                var message = request.Pending[i];
                if (core.TryGetDuplicate(message.Key, out var existing))
                {
                    request.Numbers[i] = existing;
                }
                else if (core.DuplicateDetectionWindow > TimeSpan.Zero && keys.TryGetValue(message.Key, out var first))
                {
                    mineRepeats.Add((request, i, first.Request, first.Index)); // the same id in a concurrent call: stored once
                }
                else
                {
                    mine.Add(message.ToStored(0, request.Now));
                    mineOwners.Add((request, i));
                }
            }

            if (schedule.Segments.Count + schedule.NewSegmentsFor([.. entries, .. mine], SegmentSizing.EstimateBytes, request.Now) > ScheduleStore.MaxSegments)
            {
                request.Completion.TrySetException(new QueueException(QueueErrorCode.QueueFull,
                    $"Queue '{QueueName}' holds {schedule.Count:N0} scheduled messages in {schedule.Segments.Count:N0} segments (at most " +
                    $"{ScheduleStore.MaxSegments:N0}); the new ones need more. {request.Stored}"));
                continue;
            }

            entries.AddRange(mine);
            owners.AddRange(mineOwners);
            repeats.AddRange(mineRepeats);
            foreach (var (owner, index) in mineOwners)
            {
                keys.TryAdd(owner.Pending[index].Key, (owner, index));
            }

            accepted.Add(request);
        }

        var now = requests.Max(r => r.Now);
        for (var from = 0; from < entries.Count;)
        {
            var part = entries.GetRange(from, entries.Count - from);
            var fits = schedule.Fits(part, SegmentSizing.EstimateBytes, now);
            if (fits == 0)
            {
                throw new QueueException(QueueErrorCode.QueueFull, $"Queue '{QueueName}''s schedule has no room for more segments. {requests[0].Stored}");
            }

            await schedule.AppendAsync(part.GetRange(0, fits), SegmentSizing.EstimateBytes, now);
            for (var i = from; i < from + fits; i++)
            {
                var (owner, index) = owners[i];
                owner.Numbers[index] = entries[i].Seq;
                if (generation == _generation && _core is { } current)
                {
                    current.RememberId(owner.Pending[index].DedupKey ?? owner.Pending[index].MessageId, entries[i].Seq, owner.Now);
                }
            }

            from += fits;
        }

        foreach (var (request, index, firstRequest, firstIndex) in repeats)
        {
            request.Numbers[index] = firstRequest.Numbers[firstIndex];
        }

        foreach (var request in accepted)
        {
            request.Completion.TrySetResult();
        }

        if (entries.Count > 0)
        {
            LogScheduled(QueueName, entries.Count, entries.Min(e => e.ScheduledEnqueueTime!.Value));
            ArmTimer();
            if (!_reminderRegistered && _core is { } active)
            {
                _ = EnsureReminderAsync(active); // a crash must not leave them waiting for a caller
            }
        }
    }

    private QueueException ScheduleStorageFailed(Exception ex) => new(QueueErrorCode.StorageFailed,
        $"A storage call of queue '{QueueName}''s schedule failed ({ex.GetType().Name}: {ex.Message}); the schedule is read again. The outcome is unknown: retry.");

    private QueueException Dropped() => new(QueueErrorCode.StorageFailed, $"Queue '{QueueName}' dropped its state (a failed write or a delete); retry.");

    /// <summary>The scheduled messages' count, loading the schedule if needed.</summary>
    private Task<long> ScheduledCountAsync() => WithScheduleAsync(schedule => Task.FromResult(schedule.Count));

    /// <summary>
    /// Runs <paramref name="operation"/> on the schedule, alone, loading it first if needed (which finishes a move a
    /// crash cut short). A failure other than a refusal (<see cref="QueueException"/>), or any failure when
    /// <paramref name="dropOnAnyFailure"/>, drops the schedule: it is loaded again, soon, by the timer. A storage failure
    /// fails with <see cref="QueueErrorCode.StorageFailed"/>.
    /// </summary>
    private async Task<T> WithScheduleAsync<T>(Func<ScheduleStore, Task<T>> operation, bool dropOnAnyFailure = false)
    {
        await _scheduleLock.WaitAsync();
        try
        {
            _schedule ??= await LoadScheduleAsync();
            return await operation(_schedule);
        }
        catch (Exception ex) when (dropOnAnyFailure || ex is not QueueException)
        {
            _schedule = null;
            _scheduleRetryAt = _time.GetUtcNow() + ScheduleRetryDelay;
            ArmTimer();
            if (ex is QueueException)
            {
                throw;
            }

            LogScheduleStorageFailed(ex, QueueName);
            RecordError("schedule");
            throw ScheduleStorageFailed(ex);
        }
        finally
        {
            _scheduleLock.Release();
        }
    }

    private ScheduleStore NewScheduleStore() => new(new TimedRecordStore(this, "schedule"), Math.Max(64 * 1024, _options.SegmentMaxBytes / 4));

    /// <summary>
    /// Loads the schedule's index; finishes a move into the queue a crash cut short (those stored in the queue leave the
    /// schedule, the others stay); remembers the ids of the scheduled sends of the duplicate-detection window.
    /// </summary>
    private async Task<ScheduleStore> LoadScheduleAsync()
    {
        var core = await GetCoreAsync();
        var generation = _generation;
        var log = _log ?? throw Dropped();
        var schedule = NewScheduleStore();
        await schedule.LoadAsync();
        if (schedule.Moving is { } move)
        {
            var numbers = move.Numbers.ToDictionary(n => ScheduleKeyPrefix + n);
            var landed = new List<long>();
            await log.ScanAsync(move.FromSeq, int.MaxValue, message =>
            {
                if (message.DedupKey is { } key && numbers.TryGetValue(key, out var number))
                {
                    landed.Add(number);
                }

                return true;
            });
            EnsureGeneration(generation);
            await schedule.RemoveAsync(landed);
            LogScheduleMoveResumed(QueueName, landed.Count, move.Numbers.Length - landed.Count);
        }

        if (core.DuplicateDetectionWindow > TimeSpan.Zero)
        {
            var now = _time.GetUtcNow();
            foreach (var (key, number, sentAt) in await schedule.ReadSentSinceAsync(now - core.DuplicateDetectionWindow, _limits.DedupMaxIds))
            {
                core.RememberId(key, number, sentAt);
            }
        }

        EnsureGeneration(generation);
        _scheduleRetryAt = DateTimeOffset.MinValue;
        return schedule;
    }

    /// <summary>At activation: the schedule's earliest time arms the timer, and a schedule that holds messages the reminder.</summary>
    private async Task LoadScheduleInBackgroundAsync(QueueCore core)
    {
        try
        {
            if (await ScheduledCountAsync() > 0)
            {
                ArmTimer();
                _ = EnsureReminderAsync(core);
            }
        }
        catch (QueueException)
        {
            // Logged; the timer loads it again (WithScheduleAsync armed it).
        }
    }

    private bool ScheduledMovesDue() => _schedule?.NextDue is { } due && due <= _time.GetUtcNow() && _time.GetUtcNow() >= _scheduleRetryAt;

    /// <summary>When the timer should look at the schedule next, if it holds anything, or when to load it again after a failure; none while a move runs (it re-arms the timer when it ends).</summary>
    private DateTimeOffset? ScheduleWakeUp()
    {
        if (_scheduleMoves.IsRunning)
        {
            return null;
        }

        if (_schedule is null)
        {
            return _scheduleRetryAt > DateTimeOffset.MinValue ? _scheduleRetryAt : null;
        }

        return _schedule.NextDue is { } due ? (due > _scheduleRetryAt ? due : _scheduleRetryAt) : null;
    }

    /// <summary>From the timer: sends what is due into the queue, or loads a schedule whose load failed.</summary>
    private void OnScheduleTimer(DateTimeOffset now)
    {
        if (_schedule is null && _scheduleRetryAt > DateTimeOffset.MinValue && now >= _scheduleRetryAt && _core is { } core)
        {
            _scheduleRetryAt = DateTimeOffset.MinValue;
            _ = LoadScheduleInBackgroundAsync(core);
            return;
        }

        _scheduleMoves.Start();
    }

    /// <summary>
    /// Sends the due messages into the queue, a batch at a time: the move is recorded in the schedule's index, the
    /// messages are stored in the queue (under their scheduled numbers' duplicate-detection keys), then they leave the
    /// schedule. Any failure drops the schedule: loading it again finishes the move (a crash too).
    /// </summary>
    private async Task RunScheduledMovesAsync(int generation)
    {
        while (generation == _generation)
        {
            var moved = await WithScheduleAsync(async schedule =>
            {
                if (generation != _generation || _core is not { } core)
                {
                    return 0;
                }

                var now = _time.GetUtcNow();
                var (max, maxBytes) = (_options.MaxBatchCount, _options.MaxBatchBodyBytes);
                var settings = core.DeliverySettings;
                if (settings.Overflow == QueueOverflow.RejectNew)
                {
                    // A full queue refuses them: take only what fits, and wait while nothing does.
                    max = (int)Math.Min(max, settings.MaxLength - core.Length - _stagedMessages);
                    if (settings.MaxLengthBytes > 0)
                    {
                        maxBytes = Math.Min(maxBytes, settings.MaxLengthBytes - core.LengthBytes - _stagedBodyBytes);
                    }

                    if (max <= 0 || maxBytes <= 0)
                    {
                        _scheduleRetryAt = now + ScheduleRetryDelay;
                        return 0;
                    }
                }

                var due = await schedule.ReadDueAsync(now, max, maxBytes);
                if (due.Messages.Count == 0)
                {
                    if (due.After.Count > 0)
                    {
                        await schedule.RemoveAsync([], due.After); // segments a read found empty
                    }

                    return 0;
                }

                await schedule.BeginMoveAsync(due.Messages, core.NextSeq);
                var messages = due.Messages.Select(MessageViews.ToOutgoingMessage).ToArray();
                var keys = due.Messages.Select(e => ScheduleKeyPrefix + e.Seq).ToArray();
                await EnqueueCoreAsync(messages, keys, moveGeneration: generation);
                await schedule.RemoveAsync(due.Messages.Select(e => e.Seq).ToList(), due.After);
                return due.Messages.Count;
            }, dropOnAnyFailure: true);
            if (moved == 0)
            {
                break;
            }

            LogScheduledDue(QueueName, moved);
        }
    }

    private void ScheduledMovesFailed(Exception exception)
    {
        _scheduleRetryAt = _time.GetUtcNow() + ScheduleRetryDelay;
        LogScheduleMoveFailed(exception, QueueName);
        RecordError("schedule");
    }

    [LoggerMessage((int)Diagnostics.LogEvent.MessagesScheduled, LogLevel.Debug, "Queue {Queue}: {Count} message(s) scheduled, the first due at {Due}")]
    private partial void LogScheduled(string queue, int count, DateTimeOffset due);

    [LoggerMessage((int)Diagnostics.LogEvent.ScheduledMessagesDue, LogLevel.Debug, "Queue {Queue}: {Count} scheduled message(s) joined the queue")]
    private partial void LogScheduledDue(string queue, int count);

    [LoggerMessage((int)Diagnostics.LogEvent.ScheduledMessageCancelled, LogLevel.Information, "Queue {Queue}: scheduled message {SequenceNumber} cancelled")]
    private partial void LogScheduledCancelled(string queue, long sequenceNumber);

    [LoggerMessage((int)Diagnostics.LogEvent.ScheduleMoveFailed, LogLevel.Warning, "Queue {Queue}: sending due scheduled messages into the queue failed; they stay scheduled and are tried again in 5 s")]
    private partial void LogScheduleMoveFailed(Exception exception, string queue);

    [LoggerMessage((int)Diagnostics.LogEvent.ScheduleMoveResumed, LogLevel.Warning, "Queue {Queue}: a move of scheduled messages cut short was finished: {Landed} were in the queue, {Left} stay scheduled")]
    private partial void LogScheduleMoveResumed(string queue, int landed, int left);

    [LoggerMessage((int)Diagnostics.LogEvent.ScheduleStorageFailed, LogLevel.Warning, "Queue {Queue}: a storage call of the schedule failed; the schedule is read again")]
    private partial void LogScheduleStorageFailed(Exception exception, string queue);
}
