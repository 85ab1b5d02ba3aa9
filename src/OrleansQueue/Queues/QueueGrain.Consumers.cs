using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using OrleansQueue.Appending;
using OrleansQueue.DeadLetters;
using OrleansQueue.Delivery;
using OrleansQueue.Diagnostics;
using OrleansQueue.Internal;
using OrleansQueue.Retention;
using OrleansQueue.Storage;

namespace OrleansQueue.Queues;

/// <summary>Push consumers, long polls, settings, the move to the dead-letter grain and the reminder backstop.</summary>
internal sealed partial class QueueGrain
{
    private const string WakeReminder = "oq-wake";
    private static readonly TimeSpan ClientSubscriptionLifetime = TimeSpan.FromMinutes(2);
    private const int MaxSubscriptions = 1000;
    private static readonly TimeSpan MaxClientPause = TimeSpan.FromSeconds(16);

    /// <summary>One running call to a consumer: its locked messages and when it started.</summary>
    private sealed class PushCall(Lease[] leases, DateTimeOffset startedAt)
    {
        public Lease[] Leases { get; } = leases;
        public DateTimeOffset StartedAt { get; } = startedAt;

        /// <summary>Ran past the subscription's MaxAutoLockRenewalDuration: its deliveries failed, its result is ignored.</summary>
        public bool TimedOut { get; set; }
    }

    /// <summary>
    /// A subscribed consumer: the messages locked for it (<see cref="Reserved"/>: in its running calls and in
    /// <see cref="Buffer"/>, waiting for a call slot) and its running calls, at most MaxConcurrentCalls.
    /// </summary>
    private sealed class ConsumerState(SubscriptionRecord record, IQueueConsumer reference, IQueueBatchConsumer batchReference)
    {
        public SubscriptionRecord Record { get; set; } = record;
        public IQueueConsumer Reference { get; } = reference;
        public IQueueBatchConsumer BatchReference { get; } = batchReference;
        public int Reserved { get; set; }
        public Queue<Lease> Buffer { get; } = new();
        public List<PushCall> Calls { get; } = [];

        /// <summary>A call ran too long and has not returned: the consumer gets nothing new until it does.</summary>
        public bool Stuck => Calls.Exists(c => c.TimedOut);

        /// <summary>
        /// A client consumer whose client was not reachable (it may be reconnecting to a silo that just started): it
        /// gets nothing until <see cref="PausedUntil"/> or its next renewal; its subscription lapses if it never renews.
        /// </summary>
        public bool Paused { get; set; }
        public DateTimeOffset PausedUntil { get; set; }
        public TimeSpan PauseBackoff { get; set; }

        public bool HasCredit => !Stuck && !Paused && Reserved < Record.Prefetch;
        public int Credit => Stuck || Paused ? 0 : Math.Max(0, Record.Prefetch - Reserved);
        public int MaxBatchSize => Math.Max(1, Record.MaxBatchSize);
        public int MaxConcurrentCalls => Math.Max(1, Record.MaxConcurrentCalls);
        public TimeSpan MaxAutoLockRenewalDuration => Record.MaxAutoLockRenewalDuration ?? ConsumerOptions.DefaultMaxAutoLockRenewalDuration;
    }

    private readonly Dictionary<string, ConsumerState> _consumers = [];
    private readonly Dictionary<Guid, ConsumerState> _pushes = [];
    private readonly List<TaskCompletionSource> _waiters = [];
    private readonly RecentReceives _recentReceives = new();
    private readonly SingleFlightLoop _dispatch;
    private readonly SingleFlightLoop _moves;
    private bool _reminderRegistered;
    private DateTimeOffset _reminderRetryAt;
    private int _roundRobin;

    // ------------------------------------------------------------------ settings

    public async Task Configure(QueueSettings settings)
    {
        DeliverySettings.Validate(settings, _options.MaxLockDuration);
        var core = await GetCoreAsync();
        core.Settings = core.DeliverySettings.Merge(settings);
        await _metaPump!.CommitAsync();
    }

    public async Task ResetSettings()
    {
        var core = await GetCoreAsync();
        core.Settings = new QueueSettingsState();
        await _metaPump!.CommitAsync();
    }

    public async Task<QueueSettings> GetSettings()
    {
        var core = await GetCoreAsync();
        return core.DeliverySettings.ToPublic();
    }

    // ------------------------------------------------------------------ dead-letter, long poll

    public async Task DeadLetter(Guid lockToken, string? reason, string? description)
    {
        var core = await GetCoreAsync();
        var now = _time.GetUtcNow();
        ExpireLeases(core, now);
        core.DeadLetter(lockToken, DeadLetterReason.RejectedByConsumer, DeadLetterNote.Encode(reason, description, PendingMoves.MaxDescriptionLength), now);
        PublishDepth(); // no longer leased; counted again once the move to the dead-letter grain is done
        await _metaPump!.CommitAsync();
        StartMoves();
    }

    public async Task<ReceivedMessage[]> ReceiveWait(int maxMessages, TimeSpan? lockDuration, TimeSpan maxWait, Guid receiveId, CancellationToken cancellationToken)
    {
        if (maxWait < TimeSpan.Zero || maxWait > QueueLimits.MaxReceiveWait)
        {
            throw new QueueException(QueueErrorCode.InvalidArgument, $"The wait {maxWait} is outside 0 to {QueueLimits.MaxReceiveWait}.");
        }

        var deadline = _time.GetUtcNow() + maxWait;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var received = await Receive(maxMessages, lockDuration);
            if (received.Length > 0)
            {
                if (cancellationToken.IsCancellationRequested || !_recentReceives.Remember(receiveId, received, _time.GetUtcNow()))
                {
                    // The caller is gone (its cancellation or its release came first): what this call locked goes
                    // back at once, as if never delivered.
                    await ReleaseLocksAsync(received.Select(r => r.LockToken));
                    throw new OperationCanceledException("The receive was cancelled by its caller; what it locked was released.", cancellationToken);
                }

                return received;
            }

            var left = deadline - _time.GetUtcNow();
            if (left <= TimeSpan.Zero)
            {
                return received;
            }

            var waiter = new TaskCompletionSource();
            _waiters.Add(waiter);
            try
            {
                await Task.WhenAny(waiter.Task, Task.Delay(left, _time, cancellationToken));
            }
            finally
            {
                _waiters.Remove(waiter);
            }
        }
    }

    public async Task ReleaseReceive(Guid receiveId)
    {
        if (_recentReceives.Take(receiveId, _time.GetUtcNow()) is { } tokens)
        {
            await ReleaseLocksAsync(tokens);
        }
    }

    /// <summary>Undoes the deliveries of the messages still locked by these tokens: ready at once, counts as before.</summary>
    private async Task ReleaseLocksAsync(IEnumerable<Guid> tokens)
    {
        var core = await GetCoreAsync();
        var released = 0;
        foreach (var token in tokens)
        {
            released += core.Unlock(token, _time.GetUtcNow()) ? 1 : 0;
        }

        if (released > 0)
        {
            LogReceiveReleased(QueueName, released);
            await _metaPump!.CommitAsync();
            AfterRelease();
        }
    }

    // ------------------------------------------------------------------ subscriptions

    public async Task Subscribe(GrainId consumer, ConsumerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (consumer.IsDefault)
        {
            throw new QueueException(QueueErrorCode.InvalidArgument, "The consumer's grain id is empty.");
        }

        options.Validate();
        QueueCore core;
        do
        {
            // The registry hears of the subscriber before the subscription is stored, so no silo misses waking it.
            core = await GetCoreAsync();
            await UpdateListingAsync(core, subscribing: true);
        }
        while (_core != core);

        var grainId = consumer;
        var key = grainId.ToString();
        var record = core.Subscriptions.Find(s => s.Consumer == key);
        if (record is null)
        {
            if (core.Subscriptions.Count >= MaxSubscriptions)
            {
                throw new QueueException(QueueErrorCode.InvalidArgument, $"Queue '{QueueName}' has {MaxSubscriptions} subscriptions already.");
            }

            record = new SubscriptionRecord { Consumer = key };
            core.Subscriptions.Add(record);
            LogSubscribed(QueueName, key, options.Prefetch, options.AutoComplete);
        }

        record.Prefetch = options.Prefetch;
        record.MaxBatchSize = options.MaxBatchSize;
        record.AutoComplete = options.AutoComplete;
        record.MaxConcurrentCalls = options.MaxConcurrentCalls;
        record.MaxAutoLockRenewalDuration = options.MaxAutoLockRenewalDuration;
        record.ExpiresAt = grainId.IsClient() ? _time.GetUtcNow() + ClientSubscriptionLifetime : null;
        TrackConsumer(record);
        await _metaPump!.CommitAsync();
        await EnsureReminderAsync(core);
        Dispatch();
    }

    public async Task Unsubscribe(GrainId consumer)
    {
        var core = await GetCoreAsync();
        var key = consumer.ToString();
        if (core.Subscriptions.RemoveAll(s => s.Consumer == key) > 0)
        {
            RemoveConsumer(core, key);
            await _metaPump!.CommitAsync();
            SyncListingInBackground(core);
        }
    }

    private bool IsSubscribed(ConsumerState consumer) =>
        _consumers.TryGetValue(consumer.Record.Consumer, out var current) && ReferenceEquals(current, consumer);

    private void TrackConsumer(SubscriptionRecord record)
    {
        if (_consumers.TryGetValue(record.Consumer, out var state))
        {
            state.Record = record;
            state.Paused = false; // a renewal: the client is connected again
            return;
        }

        var consumer = GrainId.Parse(record.Consumer);
        _consumers[record.Consumer] = new ConsumerState(record, GrainFactory.GetGrain<IQueueConsumer>(consumer), GrainFactory.GetGrain<IQueueBatchConsumer>(consumer));
    }

    private void DropExpiredSubscriptions(QueueCore core, DateTimeOffset now)
    {
        foreach (var expired in core.Subscriptions.Where(s => s.ExpiresAt is { } at && at <= now).ToList())
        {
            core.Subscriptions.Remove(expired);
            RemoveConsumer(core, expired.Consumer);
            LogSubscriptionLapsed(QueueName, expired.Consumer);
            CommitMetaInBackground();
            SyncListingInBackground(core);
        }
    }

    /// <summary>Forgets a consumer; the messages locked for it and not yet pushed go out again at once.</summary>
    private void RemoveConsumer(QueueCore core, string key)
    {
        if (_consumers.Remove(key, out var consumer))
        {
            ReleaseBuffered(core, consumer, _time.GetUtcNow());
        }
    }

    /// <summary>
    /// Unlocks the messages locked for a consumer but not pushed to it: nobody got them, so they are ready again at
    /// once with the delivery count they had (a delivery nobody got is no attempt).
    /// </summary>
    private void ReleaseBuffered(QueueCore core, ConsumerState consumer, DateTimeOffset now)
    {
        var released = 0;
        while (consumer.Buffer.TryDequeue(out var lease))
        {
            _pushes.Remove(lease.Token);
            consumer.Reserved--;
            if (core.Unlock(lease.Token, now))
            {
                released++;
            }
        }

        if (released > 0)
        {
            CommitMetaInBackground();
            AfterRelease();
        }
    }

    // ------------------------------------------------------------------ push

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

    /// <summary>
    /// Competing consumers: picks a consumer with credit for each of up to <paramref name="count"/> messages,
    /// round-robin by available credit, and takes that credit. Fewer are returned when the credit runs out.
    /// </summary>
    private List<ConsumerState> TakeCredit(int count)
    {
        var consumers = _consumers.Values.ToList();
        var chosen = new List<ConsumerState>(count);
        while (chosen.Count < count)
        {
            ConsumerState? next = null;
            for (var i = 0; i < consumers.Count && next is null; i++)
            {
                var candidate = consumers[(_roundRobin + i) % consumers.Count];
                if (candidate.HasCredit)
                {
                    next = candidate;
                }
            }

            if (next is null)
            {
                break;
            }

            _roundRobin = (_roundRobin + 1) % consumers.Count;
            next.Reserved++;
            chosen.Add(next);
        }

        return chosen;
    }

    /// <summary>Gives back the credit taken for the consumers from index <paramref name="used"/> on, and drops them from the list.</summary>
    private static void ReturnCredit(List<ConsumerState> consumers, int used)
    {
        if (used >= consumers.Count)
        {
            return;
        }

        for (var i = used; i < consumers.Count; i++)
        {
            consumers[i].Reserved--;
        }

        consumers.RemoveRange(used, consumers.Count - used);
    }

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
            while (batch.Count < consumer.MaxBatchSize && consumer.Buffer.TryDequeue(out var lease))
            {
                if (core.IsLeased(lease.Token))
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

    // ------------------------------------------------------------------ moves to the dead-letter grain

    /// <summary>
    /// Finishes stored moves, in batches: the cursor record names a move before the dead-letter grain sees it; the
    /// dead-letter grain stores one entry per move id (a batch in as few segment writes as it fits in); then the
    /// messages are completed here. After any crash the moves are redone, so each message ends in exactly one of the
    /// queue and the dead-letter grain.
    /// </summary>
    private void StartMoves() => _moves.Start();

    private async Task RunMovesAsync(int generation)
    {
        Activity.Current = null; // each move's activity links to its message's send; none is the starting call's child
        var deadLetters = GrainFactory.GetGrain<IDeadLetterStore>(0);
        while (generation == _generation && _core is { PendingMoves.Count: > 0 } core)
        {
            // Taken before the commit, so each is stored (with the previous batch's completions) before it is sent.
            var moves = core.TakeMoveBatch(_options.MaxBatchCount, _options.MaxBatchBodyBytes);
            await _metaPump!.CommitAsync();
            if (generation != _generation)
            {
                return;
            }

            var activities = moves.Select(move =>
            {
                var moved = core.MessageOf(move);
                var activity = StartActivity("dead-letter", moved.Id, moved.TraceParent);
                activity?.SetTag("message.seq", move.Seq);
                activity?.SetTag("reason", move.Reason.ToString());
                Activity.Current = null; // siblings, not each other's children
                return activity;
            }).ToList();
            long[] entryIds;
            try
            {
                entryIds = await deadLetters.AddBatch(moves.Select(m => new DeadLetterMove(m.MoveId, core.ToDeadLetterEntry(m, QueueName))).ToArray());
            }
            finally
            {
                activities.ForEach(a => a?.Dispose());
            }

            if (generation != _generation)
            {
                return;
            }

            for (var i = 0; i < moves.Count; i++)
            {
                core.CompleteMove(moves[i].Seq);
                LogDeadLettered(QueueName, moves[i].Seq, entryIds[i], moves[i].Reason);
            }

            RecordDeadLettered(moves.Count); // once a batch: publishing the depth counts the window
            OnMessagesReady(); // the head may have moved: the window can take more messages
        }

        await _metaPump!.CommitAsync();
    }

    /// <summary>Stored moves are retried by the timer (and after reactivation); nothing is lost meanwhile.</summary>
    private void MoveFailed(Exception exception)
    {
        LogMoveFailed(exception, QueueName);
        RecordError("move");
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
        if (core.Subscriptions.Count > 0 || core.LockedCount > 0 || core.PendingMoves.Count > 0)
        {
            _ = EnsureReminderAsync(core);
        }
    }

    private void OnInvalidated(Exception error)
    {
        _consumers.Clear();
        _pushes.Clear();
        _dispatch.Reset();
        _moves.Reset();
        foreach (var waiter in _waiters.ToArray())
        {
            waiter.TrySetResult();
        }
    }

    // ------------------------------------------------------------------ reminder backstop

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
        if (core.Subscriptions.Count == 0 && core.LockedCount == 0 && core.PendingMoves.Count == 0 && core.NextWakeUp() is null)
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

    [LoggerMessage((int)LogEvent.ConsumerSubscribed, LogLevel.Information, "Queue {Queue}: consumer {Consumer} subscribed (prefetch {Prefetch}, auto-complete {AutoComplete})")]
    private partial void LogSubscribed(string queue, string consumer, int prefetch, bool autoComplete);

    [LoggerMessage((int)LogEvent.SubscriptionLapsed, LogLevel.Information, "Queue {Queue}: the subscription of {Consumer} lapsed or its client is gone")]
    private partial void LogSubscriptionLapsed(string queue, string consumer);

    [LoggerMessage((int)LogEvent.DispatchFailed, LogLevel.Warning, "Queue {Queue}: pushing to consumers failed")]
    private partial void LogDispatchFailed(Exception exception, string queue);

    [LoggerMessage((int)LogEvent.PushSettleFailed, LogLevel.Warning, "Queue {Queue}: settling the push of message {Seq} failed")]
    private partial void LogSettleFailed(Exception exception, string queue, long seq);

    [LoggerMessage((int)LogEvent.PushTimedOut, LogLevel.Warning, "Queue {Queue}: the push of message {Seq} timed out; its lease stays until it expires")]
    private partial void LogPushTimedOut(string queue, long seq);

    [LoggerMessage((int)LogEvent.ReceiveReleased, LogLevel.Debug, "Queue {Queue}: released {Count} message(s) locked by a cancelled receive")]
    private partial void LogReceiveReleased(string queue, int count);

    [LoggerMessage((int)LogEvent.HandlerTimedOut, LogLevel.Warning, "Queue {Queue}: a call to consumer {Consumer} with {Count} message(s) from sequence number {Seq} ran past MaxAutoLockRenewalDuration ({Max}); its deliveries failed and go out again, and the consumer gets nothing new until the call returns")]
    private partial void LogHandlerTimedOut(string queue, string consumer, long seq, int count, TimeSpan max);

    [LoggerMessage((int)LogEvent.LateResultIgnored, LogLevel.Information, "Queue {Queue}: a call with {Count} message(s) from sequence number {Seq} returned after {Elapsed}, past its MaxAutoLockRenewalDuration; its result is ignored")]
    private partial void LogLateResultIgnored(string queue, long seq, int count, TimeSpan elapsed);

    [LoggerMessage((int)LogEvent.MessageDeadLettered, LogLevel.Information, "Queue {Queue}: message {Seq} moved to the dead-letter grain as entry {EntryId} ({Reason})")]
    private partial void LogDeadLettered(string queue, long seq, long entryId, DeadLetterReason reason);

    [LoggerMessage((int)LogEvent.DeadLetterMoveFailed, LogLevel.Warning, "Queue {Queue}: moving messages to the dead-letter grain failed; the move is stored and is retried")]
    private partial void LogMoveFailed(Exception exception, string queue);

    [LoggerMessage((int)LogEvent.ClientConsumerUnavailable, LogLevel.Information, "Queue {Queue}: client consumer {Consumer} is not connected; pushes to it pause for {Pause}")]
    private partial void LogClientUnavailable(string queue, string consumer, TimeSpan pause);

    [LoggerMessage((int)LogEvent.ReminderUnavailable, LogLevel.Warning, "Queue {Queue}: registering the reminder that wakes this queue after a silo crash failed (is a reminder service configured: UseInMemoryReminderService, UseAzureTableReminderService?); tried again in a minute")]
    private partial void LogReminderUnavailable(Exception exception, string queue);
}
