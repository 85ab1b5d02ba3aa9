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

namespace OrleansQueue.Queues;

/// <summary>The timer (lock expiry, redelivery delays, push renewals, retention) and the reminder that wakes the queue after a crash.</summary>
internal sealed partial class QueueGrain
{
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

        if (ScheduleWakeUp() is { } scheduled && scheduled - now < due)
        {
            due = scheduled - now; // the schedule's earliest message: at most a second late (rounded up below)
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
            OnScheduleTimer(now);
            _ = SweepExpiredAsync(now);
            OnMessagesReady();
            StartMoves();
            core.TrimDedup(now);
            StartCleanup();
            SyncListingInBackground(core);
            if (!_reminderRegistered && NeedsWaking(core))
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

    // ------------------------------------------------------------------ reminder backstop

    /// <summary>
    /// Whether the queue has work that must go on after a crash with nobody calling: pushes, locks to expire, moves to
    /// the dead-letter grain, scheduled messages, messages that may expire.
    /// </summary>
    private bool NeedsWaking(QueueCore core) =>
        core.Subscriptions.Count > 0 || core.LockedCount > 0 || core.PendingMoves.Count > 0 || _schedule is { Count: > 0 }
        || (MayExpire(core) && core.ActiveCount > 0);

    /// <summary>A reminder wakes the queue after a silo crash so pushes, expiries and moves resume without callers.</summary>
    private async Task EnsureReminderAsync(QueueCore core)
    {
        if (_reminderRegistered || _time.GetUtcNow() < _reminderRetryAt)
        {
            return;
        }

        try
        {
            await this.RegisterOrUpdateReminder(WakeReminder, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1));
            _reminderRegistered = true;
        }
        catch (Exception ex)
        {
            _reminderRetryAt = _time.GetUtcNow() + MaintenancePeriod; // the timer tries again
            LogReminderUnavailable(ex, QueueName);
            RecordError("reminder");
        }
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName != WakeReminder)
        {
            return;
        }

        var core = await GetCoreAsync();
        _reminderRegistered = true;
        await OnTimerAsync(CancellationToken.None);
        if (!NeedsWaking(core) && core.NextWakeUp() is null && await ScheduledCountAsync() == 0)
        {
            // Idle: nothing needs waking after a crash any more.
            var reminder = await this.GetReminder(WakeReminder);
            if (reminder is not null)
            {
                await this.UnregisterReminder(reminder);
            }

            _reminderRegistered = false;
        }
    }
}
