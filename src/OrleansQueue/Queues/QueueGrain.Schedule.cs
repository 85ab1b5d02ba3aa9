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

    /// <summary>
    /// Stores <paramref name="pending"/> (due in the future) in the schedule; returns their scheduled numbers, in order.
    /// Refused with nothing stored (<see cref="QueueErrorCode.QueueFull"/>) when the schedule has no room for them.
    /// </summary>
    private async Task<long[]> ScheduleAsync(QueueCore core, IReadOnlyList<PendingMessage> pending, DateTimeOffset now)
    {
        var entries = pending.Select(p => p.ToStored(0, now)).ToList();
        await WithScheduleAsync(async schedule =>
        {
            var opened = entries.Select(e => ScheduleStore.BucketOf(e.ScheduledEnqueueTime!.Value, now)).Distinct().Count();
            if (schedule.Segments.Count + opened > ScheduleStore.MaxSegments && schedule.Fits(entries, now) < entries.Count)
            {
                throw new QueueException(QueueErrorCode.QueueFull,
                    $"Queue '{QueueName}' holds {schedule.Count:N0} scheduled messages in {schedule.Segments.Count:N0} time buckets (at most {ScheduleStore.MaxSegments:N0}); " +
                    "the new ones need more. Nothing was stored.");
            }

            for (var from = 0; from < entries.Count;)
            {
                var part = entries.GetRange(from, entries.Count - from);
                var fits = schedule.Fits(part, now);
                await schedule.AppendAsync(part.GetRange(0, fits), SegmentSizing.EstimateBytes, now);
                for (var i = from; i < from + fits; i++)
                {
                    core.RememberId(pending[i].DedupKey ?? pending[i].MessageId, entries[i].Seq, now);
                }

                from += fits;
            }

            return true;
        });
        LogScheduled(QueueName, entries.Count, entries.Min(e => e.ScheduledEnqueueTime!.Value));
        ArmTimer();
        if (!_reminderRegistered)
        {
            _ = EnsureReminderAsync(core); // a crash must not leave them waiting for a caller
        }

        return entries.Select(e => e.Seq).ToArray();
    }

    /// <summary>The scheduled messages' count, loading the schedule if needed.</summary>
    private Task<long> ScheduledCountAsync() => WithScheduleAsync(schedule => Task.FromResult(schedule.Count));

    /// <summary>
    /// Runs <paramref name="operation"/> on the schedule, alone, loading it first if needed (and finishing a move a crash
    /// cut short). A storage failure drops the schedule (it is loaded again) and fails with
    /// <see cref="QueueErrorCode.StorageFailed"/>.
    /// </summary>
    private async Task<T> WithScheduleAsync<T>(Func<ScheduleStore, Task<T>> operation)
    {
        await _scheduleLock.WaitAsync();
        try
        {
            _schedule ??= await LoadScheduleAsync();
            return await operation(_schedule);
        }
        catch (Exception ex) when (ex is not QueueException)
        {
            _schedule = null;
            LogScheduleStorageFailed(ex, QueueName);
            RecordError("schedule");
            throw new QueueException(QueueErrorCode.StorageFailed,
                $"A storage call of queue '{QueueName}''s schedule failed ({ex.GetType().Name}: {ex.Message}); the schedule is read again. The outcome is unknown: retry.");
        }
        finally
        {
            _scheduleLock.Release();
        }
    }

    private ScheduleStore NewScheduleStore() => new(new TimedRecordStore(this, "schedule"), Math.Max(64 * 1024, _options.SegmentMaxBytes / 4));

    private async Task<ScheduleStore> LoadScheduleAsync()
    {
        var core = await GetCoreAsync();
        var generation = _generation;
        var schedule = NewScheduleStore();
        await schedule.LoadAsync();
        if (schedule.Moving is { } move)
        {
            // A move into the queue cut short: those stored in the queue leave the schedule, the others stay.
            var numbers = move.Numbers.ToDictionary(n => ScheduleKeyPrefix + n);
            var landed = new List<long>();
            await _log!.ScanAsync(move.FromSeq, int.MaxValue, message =>
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
            // Scheduled sends of the duplicate-detection window, so a producer's retry after a reload stores nothing twice.
            var now = _time.GetUtcNow();
            foreach (var entry in await schedule.ReadAppendedSinceAsync(now - core.DuplicateDetectionWindow, _limits.DedupMaxIds))
            {
                core.RememberId(entry.DedupKey ?? entry.Id, entry.Seq, entry.EnqueuedAt);
            }
        }

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
            // Logged; the next schedule operation (a send, the timer's retry) loads it again.
            _scheduleRetryAt = _time.GetUtcNow() + ScheduleRetryDelay;
            ArmTimer();
        }
    }

    private bool ScheduledMovesDue() => _schedule?.NextDue is { } due && due <= _time.GetUtcNow() && _time.GetUtcNow() >= _scheduleRetryAt;

    /// <summary>When the timer should look at the schedule next, if it holds anything (or its load failed).</summary>
    private DateTimeOffset? ScheduleWakeUp() =>
        _schedule is null ? (_scheduleRetryAt > DateTimeOffset.MinValue ? _scheduleRetryAt : null)
        : _schedule.NextDue is { } due ? (due > _scheduleRetryAt ? due : _scheduleRetryAt) : null;

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
    /// schedule. A crash between the steps is finished when the schedule is loaded again.
    /// </summary>
    private async Task RunScheduledMovesAsync(int generation)
    {
        while (generation == _generation)
        {
            var moved = await WithScheduleAsync(async schedule =>
            {
                var core = await GetCoreAsync();
                var now = _time.GetUtcNow();
                var due = await schedule.ReadDueAsync(now, _options.MaxBatchCount, _options.MaxBatchBodyBytes);
                if (due.Count == 0)
                {
                    if (schedule.HasEmptySegments)
                    {
                        await schedule.RemoveAsync([]);
                    }

                    return 0;
                }

                await schedule.BeginMoveAsync(due, core.NextSeq);
                var messages = due.Select(MessageViews.ToOutgoingMessage).ToArray();
                var keys = due.Select(e => ScheduleKeyPrefix + e.Seq).ToArray();
                await EnqueueCoreAsync(messages, keys);
                await schedule.RemoveAsync(due.Select(e => e.Seq).ToList());
                return due.Count;
            });
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
