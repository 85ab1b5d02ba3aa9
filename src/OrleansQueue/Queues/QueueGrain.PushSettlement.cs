using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using OrleansQueue.Appending;
using OrleansQueue.DeadLetters;
using OrleansQueue.Delivery;
using OrleansQueue.Diagnostics;
using OrleansQueue.Internal;
using OrleansQueue.Push;
using OrleansQueue.Retention;
using OrleansQueue.Storage;

namespace OrleansQueue.Queues;

/// <summary>What a returned, failed or hung push call does to its locks, and renewing the locks of pushes still running.</summary>
internal sealed partial class QueueGrain
{
    /// <summary>
    /// Completes pushed leases (none: just commits what else changed) and starts cleanup if the head moved. Nobody
    /// waits on this write, so it lingers briefly to share it with the completions that follow (a crash meanwhile
    /// redelivers those messages: at least once). Pushing goes on meanwhile; its lease writes cut the linger short.
    /// </summary>
    private async Task CompletePushedAsync(QueueCore core, Guid[] tokens)
    {
        var headBefore = core.HeadSegment;
        if (tokens.Length > 0)
        {
            RecordCompleted(core.Complete(tokens));
        }

        var committed = _metaPump!.CommitSoonAsync(); // first: a lease write that Dispatch starts releases it too
        Dispatch();
        await committed;
        if (core.HeadSegment != headBefore)
        {
            StartCleanup();
        }
    }

    private async Task SettlePushAsync(QueueCore core, ConsumerState consumer, Lease lease, Exception? failure)
    {
        var now = _time.GetUtcNow();
        switch (failure)
        {
            case null:
                consumer.PauseBackoff = TimeSpan.Zero;
                if (consumer.Record.AutoComplete && core.IsLeased(lease.Token))
                {
                    await CompletePushedAsync(core, [lease.Token]); // PushAsync dispatches next: the window may have room now
                }

                return;

            case ClientNotAvailableException when consumer.Record.ExpiresAt is not null:
                // The client is not connected to any gateway: gone, or reconnecting after a silo restart. Pause it
                // (1, 2, 4 ... 16 s) rather than drop it: its renewals keep the subscription, and its lapse ends it.
                if (!consumer.Paused)
                {
                    consumer.PauseBackoff = TimeSpan.FromTicks(Math.Clamp(consumer.PauseBackoff.Ticks * 2, TimeSpan.FromSeconds(1).Ticks, MaxClientPause.Ticks));
                    consumer.Paused = true;
                    consumer.PausedUntil = now + consumer.PauseBackoff;
                    LogClientUnavailable(QueueName, consumer.Record.Consumer, consumer.PauseBackoff);
                    ReleaseBuffered(core, consumer, now);
                    ArmTimer();
                }

                break;

            case ClientNotAvailableException:
                // The client that held the observer is gone: drop its subscription, redeliver at once.
                core.Subscriptions.RemoveAll(s => s.Consumer == consumer.Record.Consumer);
                RemoveConsumer(core, consumer.Record.Consumer);
                LogSubscriptionLapsed(QueueName, consumer.Record.Consumer);
                SyncListingInBackground(core);
                break;

            case TimeoutException:
                // Unknown outcome: the handler may still run and settle. The lease stays until it expires.
                LogPushTimedOut(QueueName, lease.Message.Seq);
                return;
        }

        if (!core.IsLeased(lease.Token))
        {
            return;
        }

        if (failure is ClientNotAvailableException)
        {
            // No gateway knows the client: the call never reached it, so nobody handled the message; it is ready
            // again at once, with the delivery count it had.
            core.Unlock(lease.Token, now);
        }
        else if (failure is SiloUnavailableException or OrleansMessageRejectionException)
        {
            // The consumer's silo is gone, perhaps in the middle of the handler: a delivery that counts, made again at once.
            core.Abandon(lease.Token, now, immediate: true);
            RecordAbandoned(1);
        }
        else
        {
            var error = failure!;
            core.Abandon(lease.Token, now, error.GetType().FullName, error.Message);
            RecordAbandoned(1);
        }

        // Stored with the next cursor write, within CursorWriteDelay: nothing waits on it. The delivery itself was
        // counted when its lock was stored; a redelivery's lock is stored (with this) before its push, and a move to
        // the dead-letter grain is stored before the move.
        CommitMetaInBackground();
        AfterRelease();
    }

    /// <summary>
    /// Fails the calls that ran past their subscription's MaxAutoLockRenewalDuration: their messages are delivered
    /// again (to another consumer: this one gets nothing new until the call returns, and the messages locked for it in
    /// its buffer go out again too), and the call's result, whenever it comes, is ignored.
    /// </summary>
    private void FailHungPushes(QueueCore core, DateTimeOffset now)
    {
        // Snapshots: failing a call releases messages, which dispatches, which may drop lapsed subscriptions.
        foreach (var consumer in _consumers.Values.ToList())
        {
            foreach (var call in consumer.Calls.ToList())
            {
                if (call.TimedOut || now - call.StartedAt < consumer.MaxAutoLockRenewalDuration)
                {
                    continue;
                }

                call.TimedOut = true;
                LogHandlerTimedOut(QueueName, consumer.Record.Consumer, call.Leases[0].Message.Seq, call.Leases.Length, consumer.MaxAutoLockRenewalDuration);
                foreach (var lease in call.Leases)
                {
                    _pushes.Remove(lease.Token);
                    consumer.Reserved--;
                    if (core.IsLeased(lease.Token))
                    {
                        core.Abandon(lease.Token, now, HandlerTimedOutError,
                            $"The handler call ran longer than the subscription's MaxAutoLockRenewalDuration ({consumer.MaxAutoLockRenewalDuration}).");
                        RecordAbandoned(1);
                    }
                }

                CommitMetaInBackground();
                AfterRelease();
            }

            if (consumer.Stuck)
            {
                ReleaseBuffered(core, consumer, now);
            }
        }
    }

    /// <summary>The error type a delivery records when its handler call ran past MaxAutoLockRenewalDuration.</summary>
    internal const string HandlerTimedOutError = "OrleansQueue.HandlerTimedOut";

    /// <summary>Extends the leases of pushes whose handler calls are still running or wait for a call slot.</summary>
    private void RenewPushes(QueueCore core, DateTimeOffset now)
    {
        FailHungPushes(core, now);
        var renewed = 0;
        foreach (var (token, consumer) in _pushes)
        {
            // A call to a consumer that unsubscribed or lapsed keeps its lock until the lock runs out, unrenewed: its
            // result still counts if it comes back before.
            if (IsSubscribed(consumer) && core.LockedUntil(token) is { } until && until - now <= core.LockDuration / 2)
            {
                core.Renew(token, core.LockDuration, now);
                renewed++;
            }
        }

        if (renewed > 0)
        {
            CommitMetaInBackground();
        }
    }

    private DateTimeOffset? PushRenewalDue(QueueCore core)
    {
        DateTimeOffset? due = null;
        foreach (var (token, consumer) in _pushes)
        {
            if (IsSubscribed(consumer) && core.LockedUntil(token) is { } until)
            {
                var at = until - core.LockDuration / 2;
                if (due is null || at < due)
                {
                    due = at;
                }
            }
        }

        foreach (var consumer in _consumers.Values)
        {
            foreach (var call in consumer.Calls)
            {
                var at = call.StartedAt + consumer.MaxAutoLockRenewalDuration;
                if (!call.TimedOut && (due is null || at < due))
                {
                    due = at;
                }
            }
        }

        return due;
    }
}
