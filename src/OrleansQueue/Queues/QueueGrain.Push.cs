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

/// <summary>Push dispatch: locking ready messages for consumers with credit and calling them, at most MaxConcurrentCalls at once.</summary>
internal sealed partial class QueueGrain
{
    /// <summary>Leases ready messages for consumers with credit and pushes them; one dispatcher runs at a time.</summary>
    private void Dispatch() => _dispatch.Signal();

    private async Task DispatchAsync(int generation)
    {
        while (generation == _generation && _core is { } core)
        {
            var now = _time.GetUtcNow();
            DropExpiredSubscriptions(core, now);
            var credit = _consumers.Values.Sum(c => c.Credit);
            if (credit == 0)
            {
                break;
            }

            ExpireMessages(core, now);
            await FillWindowAsync(credit);
            if (generation != _generation)
            {
                return;
            }

            var leases = core.Lease(credit, core.LockDuration, now);
            RecordLeases(leases);
            RecordInFlightLimit(core, credit, leases.Count);
            if (leases.Count == 0)
            {
                break;
            }

            var consumers = TakeCredit(leases.Count);
            ArmTimer();
            await _metaPump!.CommitAsync(); // the leases are durable before anything is pushed
            if (generation != _generation)
            {
                return;
            }

            StartPushes(leases, consumers, generation);
        }
    }

    private void DispatchFailed(Exception exception)
    {
        LogDispatchFailed(exception, QueueName);
        RecordError("dispatch");
    }

    private List<ConsumerState> TakeCredit(int count) => _credit.Take(_consumers.Values, count);

    private static void ReturnCredit(List<ConsumerState> consumers, int used) => ConsumerCredit.Return(consumers, used);

    /// <summary>
    /// Hands each durable lease to the consumer whose credit it took: it joins the consumer's buffer, and calls start
    /// while the consumer has a free call slot.
    /// </summary>
    private void StartPushes(IReadOnlyList<Lease> leases, IReadOnlyList<ConsumerState> consumers, int generation)
    {
        var touched = new List<ConsumerState>();
        for (var i = 0; i < leases.Count && i < consumers.Count; i++)
        {
            _pushes[leases[i].Token] = consumers[i];
            consumers[i].Buffer.Enqueue(leases[i]);
            if (!touched.Contains(consumers[i]))
            {
                touched.Add(consumers[i]);
            }
        }

        foreach (var consumer in touched)
        {
            PumpConsumer(consumer, generation);
        }
    }

    /// <summary>
    /// Starts calls to the consumer from its buffer while it has fewer than MaxConcurrentCalls running, each with up
    /// to MaxBatchSize deliveries. So a consumer never has calls waiting in its inbox (with the default of one), and
    /// no call waits out Orleans' response timeout there: the queue renews the locks of what it holds.
    /// </summary>
    private void PumpConsumer(ConsumerState consumer, int generation)
    {
        while (generation == _generation && _core is { } core && !consumer.Stuck && !consumer.Paused
            && consumer.Calls.Count < consumer.MaxConcurrentCalls && consumer.Buffer.Count > 0)
        {
            var batch = new List<Lease>(Math.Min(consumer.MaxBatchSize, consumer.Buffer.Count));
            var now = _time.GetUtcNow();
            while (batch.Count < consumer.MaxBatchSize && consumer.Buffer.TryDequeue(out var lease))
            {
                if (core.IsLeased(lease.Token) && lease.Message.ExpiresAt <= now)
                {
                    // Expired while it waited for the consumer: released unpushed, then expired.
                    core.Unlock(lease.Token, now);
                    _pushes.Remove(lease.Token);
                    consumer.Reserved--;
                    ExpireMessages(core, now);
                }
                else if (core.IsLeased(lease.Token))
                {
                    batch.Add(lease);
                }
                else
                {
                    _pushes.Remove(lease.Token); // settled or expired while it waited
                    consumer.Reserved--;
                }
            }

            if (batch.Count == 0)
            {
                continue;
            }

            var call = new PushCall([.. batch], _time.GetUtcNow());
            consumer.Calls.Add(call);
            ArmTimer(); // the call's MaxAutoLockRenewalDuration
            if (consumer.MaxBatchSize > 1)
            {
                _ = PushBatchAsync(consumer, call, generation);
            }
            else
            {
                _ = PushAsync(consumer, call, generation);
            }
        }
    }

    private QueueDelivery ToDelivery(ConsumerState consumer, Lease lease) => new()
    {
        QueueName = QueueName,
        Message = MessageViews.ToQueueMessage(lease.Message, lease.DeliveryCount),
        LockToken = lease.Token,
        LockedUntil = _core?.LockedUntil(lease.Token) ?? lease.LockedUntil, // renewed while it waited in the buffer
        AutoComplete = consumer.Record.AutoComplete,
    };

    /// <summary>
    /// Ends a returned call: frees its slot and its messages' reservation. False when its result must be ignored: the
    /// queue reloaded meanwhile, or the call ran past MaxAutoLockRenewalDuration and its deliveries already failed.
    /// </summary>
    private bool EndCall(ConsumerState consumer, PushCall call, int generation)
    {
        consumer.Calls.Remove(call);
        if (generation != _generation || _core is null)
        {
            return false;
        }

        if (call.TimedOut)
        {
            LogLateResultIgnored(QueueName, call.Leases[0].Message.Seq, call.Leases.Length, _time.GetUtcNow() - call.StartedAt);
            return false;
        }

        foreach (var lease in call.Leases)
        {
            _pushes.Remove(lease.Token);
            consumer.Reserved--;
        }

        return true;
    }

    /// <summary>Pushes several leases in one call; completes the successes with one cursor write.</summary>
    private async Task PushBatchAsync(ConsumerState consumer, PushCall call, int generation)
    {
        Activity.Current = null; // a push belongs to its message's trace (linked), not to whichever call started it
        var leases = call.Leases;
        var deliveries = Array.ConvertAll(leases, lease => ToDelivery(consumer, lease));
        var activities = StartDeliveries(leases, "push");

        Exception? failure = null;
        DeliveryFailure[]? failures = null;
        try
        {
            failures = await consumer.BatchReference.HandleBatch(deliveries);
        }
        catch (Exception ex)
        {
            failure = ex;
        }

        // A consumer's list may repeat a token or name one from elsewhere: the first entry per token of this batch counts.
        var failed = failures is { Length: > 0 }
            ? failures.Where(f => f is not null).DistinctBy(f => f.LockToken).ToDictionary(f => f.LockToken)
            : null;
        EndDeliveries(activities, i => failure?.GetType().FullName
            ?? (failed is not null && failed.TryGetValue(leases[i].Token, out var f) ? f.ExceptionType : null));

        if (!EndCall(consumer, call, generation) || _core is not { } core)
        {
            PumpConsumer(consumer, generation);
            return;
        }

        try
        {
            if (failure is not null)
            {
                foreach (var lease in leases)
                {
                    await SettlePushAsync(core, consumer, lease, failure);
                }
            }
            else if (consumer.Record.AutoComplete)
            {
                var now = _time.GetUtcNow();
                var released = false;
                foreach (var lease in leases)
                {
                    if (failed?.GetValueOrDefault(lease.Token) is { } f && core.IsLeased(lease.Token))
                    {
                        core.Abandon(lease.Token, now, f.ExceptionType, f.Message);
                        RecordAbandoned(1);
                        released = true;
                    }
                }

                var succeeded = leases.Where(l => failed?.ContainsKey(l.Token) != true && core.IsLeased(l.Token)).Select(l => l.Token).ToArray();
                PumpConsumer(consumer, generation); // the next call starts before this one's completions are stored
                await CompletePushedAsync(core, succeeded); // one cursor write for the completions and the releases

                if (released)
                {
                    AfterRelease();
                }
            }
        }
        catch (QueueException e) when (e.Code == QueueErrorCode.MessageLockLost)
        {
            // A lock was lost meanwhile (expired, or settled by the consumer): nothing to do.
        }
        catch (Exception ex)
        {
            // A failed cursor write reloads the queue: the messages are delivered again once their locks end.
            LogSettleFailed(ex, QueueName, leases[0].Message.Seq);
            RecordError("settle");
        }

        PumpConsumer(consumer, generation);
        Dispatch();
    }

    private async Task PushAsync(ConsumerState consumer, PushCall call, int generation)
    {
        Activity.Current = null; // a push belongs to its message's trace (linked), not to whichever call started it
        var lease = call.Leases[0];
        var delivery = ToDelivery(consumer, lease);

        Exception? failure = null;
        using (var activity = StartDelivery(lease, "push", 1))
        {
            try
            {
                await consumer.Reference.Handle(delivery);
            }
            catch (Exception ex)
            {
                failure = ex;
                activity?.SetStatus(ActivityStatusCode.Error, ex.GetType().FullName);
            }
        }

        if (!EndCall(consumer, call, generation) || _core is not { } core)
        {
            PumpConsumer(consumer, generation);
            return;
        }

        PumpConsumer(consumer, generation); // the next call starts before this one's settlement is stored
        try
        {
            await SettlePushAsync(core, consumer, lease, failure);
        }
        catch (QueueException e) when (e.Code == QueueErrorCode.MessageLockLost)
        {
            // The lock was lost meanwhile (expired, or settled by the consumer): nothing to do.
        }
        catch (Exception ex)
        {
            // A failed cursor write reloads the queue: the message is delivered again once its lock ends.
            LogSettleFailed(ex, QueueName, lease.Message.Seq);
            RecordError("settle");
        }

        PumpConsumer(consumer, generation);
        Dispatch();
    }
}
