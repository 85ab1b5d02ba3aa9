using Orleans.Runtime;
using Orleans.Runtime.Messaging;

namespace OrleansQueue;

// Receiving, settling, subscribing and peeking.
public sealed partial class QueueClient
{
    /// <summary>
    /// Locks up to <paramref name="maxMessages"/> (1 to <see cref="QueueClientOptions.MaxBatchCount"/>) ready messages
    /// for <paramref name="lockDuration"/> (the queue's lock duration when null; 1 second to 12 hours, the silo may
    /// allow less); an empty list when none is ready or the queue holds its <c>MaxMessagesInFlight</c>.
    /// </summary>
    public async Task<IReadOnlyList<ReceivedMessage>> ReceiveAsync(int maxMessages = 1, TimeSpan? lockDuration = null, CancellationToken cancellationToken = default)
    {
        QueueLimits.ValidateCount(maxMessages, _options.MaxBatchCount, nameof(maxMessages));
        if (lockDuration is { } lease)
        {
            QueueLimits.ValidateLockDuration(lease, QueueLimits.MaxLockDuration);
        }

        return await ReceiveCoreAsync(maxMessages, lockDuration, TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// A long poll: like <see cref="ReceiveAsync(int, TimeSpan?, CancellationToken)"/>, but when no message is ready waits
    /// up to <paramref name="maxWait"/> (at most 20 s) for one, and returns as soon as any is ready. A cancelled long poll
    /// locks nothing.
    /// </summary>
    public async Task<IReadOnlyList<ReceivedMessage>> WaitAndReceiveAsync(TimeSpan maxWait, int maxMessages = 1, TimeSpan? lockDuration = null, CancellationToken cancellationToken = default)
    {
        QueueLimits.ValidateCount(maxMessages, _options.MaxBatchCount, nameof(maxMessages));
        if (lockDuration is { } lease)
        {
            QueueLimits.ValidateLockDuration(lease, QueueLimits.MaxLockDuration);
        }

        ValidateWait(maxWait);
        return await ReceiveCoreAsync(maxMessages, lockDuration, maxWait, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// A receive that locks nothing when cancelled: the cancellation reaches the grain, which releases what it locked;
    /// if the call returned just as it was cancelled, the grain is asked to release that receive's locks.
    /// </summary>
    private async Task<ReceivedMessage[]> ReceiveCoreAsync(int maxMessages, TimeSpan? lockDuration, TimeSpan maxWait, CancellationToken cancellationToken)
    {
        long? failingOverSince = null;
        while (true)
        {
            var receiveId = RandomIds.NewGuid();
            // Right after a recovery, a receive not answered within its wait and two seconds never will be.
            using var cut = _connection?.ForCall(maxWait + SendPatience);
            var lost = cut?.Token ?? CancellationToken.None;
            try
            {
                return await WaitUnlessLostAsync(Grain.ReceiveWait(maxMessages, lockDuration, maxWait, receiveId, cancellationToken), lost, cancellationToken)
                    .ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                ReleaseInBackground(receiveId);
                throw;
            }
            catch (Exception ex) when (_connection is not null
                && (lost.IsCancellationRequested || ex is ConnectionFailedException || (_connection.Disconnected && IsOutcomeUnknown(ex)))
                && Environment.TickCount64 - (failingOverSince ??= Environment.TickCount64) < FailoverWindow.TotalMilliseconds)
            {
                // Cut off by a lost gateway connection: made again, never on a timer while the grain is alive. What
                // the cut-off receive locked, if anything, is released once the grain can be reached, or runs out.
                ReleaseInBackground(receiveId);
                await Task.Delay(FailoverDelay, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private void ReleaseInBackground(Guid receiveId) =>
        _ = Grain.ReleaseReceive(receiveId).ContinueWith(
            static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);

    /// <summary>Completes the delivery with this lock token (from a <see cref="QueueDelivery"/>, say).</summary>
    public Task CompleteAsync(Guid lockToken, CancellationToken cancellationToken = default) => CompleteAsync([lockToken], cancellationToken);

    /// <summary>
    /// Abandons the delivery with this lock token, a failed delivery: it is delivered again per the queue's redelivery
    /// policy, or dead-lettered once it had the queue's maximum number of deliveries.
    /// </summary>
    public Task AbandonAsync(Guid lockToken, CancellationToken cancellationToken = default) =>
        CallAsync(() => Grain.Abandon(lockToken), cancellationToken);

    /// <summary>
    /// Moves the locked message to the dead-letter grain (<see cref="DeadLetterReason.RejectedByConsumer"/>) with a short
    /// <paramref name="reason"/> (kept as <see cref="DeadLetterEntry.ConsumerReason"/>, cut to 128 characters) and a longer
    /// <paramref name="description"/> (cut so that both, with 2 separating characters, fit in 512 characters).
    /// </summary>
    public Task DeadLetterAsync(Guid lockToken, string? reason = null, string? description = null, CancellationToken cancellationToken = default) =>
        CallAsync(() => Grain.DeadLetter(lockToken, reason, description), cancellationToken);

    /// <summary>Moves the received message to the dead-letter grain; see <see cref="DeadLetterAsync(Guid, string?, string?, CancellationToken)"/>.</summary>
    public Task DeadLetterAsync(ReceivedMessage message, string? reason = null, string? description = null, CancellationToken cancellationToken = default) =>
        DeadLetterAsync(RequireMessage(message).LockToken, reason, description, cancellationToken);

    /// <summary>
    /// Subscribes a consumer for pushed messages. A grain reference (a grain implementing <see cref="IQueueConsumer"/>)
    /// stays subscribed until unsubscribed. A local object (in this client) is subscribed through an observer
    /// reference that the returned handle renews every 30 seconds, so the subscription survives silo restarts;
    /// dispose the handle to unsubscribe.
    /// </summary>
    public async Task<QueueSubscription> SubscribeAsync(IQueueConsumer consumer, ConsumerOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(consumer);
        options ??= new ConsumerOptions();
        options.Validate();
        if (consumer is GrainReference)
        {
            if (options.MaxBatchSize > 1)
            {
                throw new QueueException(QueueErrorCode.InvalidArgument,
                    $"MaxBatchSize {options.MaxBatchSize} needs a grain that implements {nameof(IQueueBatchConsumer)}: subscribe it through that interface.");
            }

            await CallAsync(() => Grain.Subscribe(consumer.GetGrainId(), options), cancellationToken).ConfigureAwait(false);
            return new QueueSubscription(Grain, consumer.GetGrainId(), null, null);
        }

        if (options.MaxBatchSize > 1)
        {
            consumer = new BatchingConsumer(consumer); // the queue pushes batches; the object still sees one delivery per call
        }

        var reference = _grainFactory.CreateObjectReference<IQueueConsumer>(consumer);
        await CallAsync(() => Grain.Subscribe(reference.GetGrainId(), options), cancellationToken).ConfigureAwait(false);
        // The subscription holds the object strongly: Orleans keeps only a weak reference to observer objects.
        return new QueueSubscription(Grain, reference.GetGrainId(), options, () => _grainFactory.DeleteObjectReference<IQueueConsumer>(reference), consumer);
    }

    /// <summary>
    /// Subscribes a grain that takes pushed messages in batches of up to <see cref="ConsumerOptions.MaxBatchSize"/>;
    /// a client object is refused (<see cref="QueueErrorCode.InvalidArgument"/>): subscribe it as an <see cref="IQueueConsumer"/>.
    /// </summary>
    public async Task<QueueSubscription> SubscribeAsync(IQueueBatchConsumer consumer, ConsumerOptions? options = null, CancellationToken cancellationToken = default)
    {
        if (consumer is not GrainReference)
        {
            throw new QueueException(QueueErrorCode.InvalidArgument, "Subscribe a client object as an IQueueConsumer; the client batches for it.");
        }

        options ??= new ConsumerOptions();
        options.Validate();
        await CallAsync(() => Grain.Subscribe(consumer.GetGrainId(), options), cancellationToken).ConfigureAwait(false);
        return new QueueSubscription(Grain, consumer.GetGrainId(), null, null);
    }

    /// <summary>Completes the message: it is removed from the queue for good.</summary>
    public Task CompleteAsync(ReceivedMessage message, CancellationToken cancellationToken = default) =>
        CompleteAsync([RequireMessage(message).LockToken], cancellationToken);

    /// <summary>Completes the messages with these lock tokens (1 to <see cref="QueueClientOptions.MaxBatchCount"/>): all, or none if any lock was lost.</summary>
    public Task CompleteAsync(IEnumerable<Guid> lockTokens, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(lockTokens);
        var tokens = lockTokens.ToArray();
        QueueLimits.ValidateCount(tokens.Length, _options.MaxBatchCount, "The number of lock tokens");
        return CallAsync(() => Grain.Complete(tokens), cancellationToken);
    }

    /// <summary>Abandons the message; see <see cref="AbandonAsync(Guid, CancellationToken)"/>.</summary>
    public Task AbandonAsync(ReceivedMessage message, CancellationToken cancellationToken = default) =>
        CallAsync(() => Grain.Abandon(RequireMessage(message).LockToken), cancellationToken);

    /// <summary>Renews the message's lock to end <paramref name="lockDuration"/> from now; returns the new locked-until time.</summary>
    public Task<DateTimeOffset> RenewLockAsync(ReceivedMessage message, TimeSpan? lockDuration = null, CancellationToken cancellationToken = default) =>
        RenewLockAsync(RequireMessage(message).LockToken, lockDuration, cancellationToken);

    /// <summary>
    /// Renews the lock of the delivery with <paramref name="lockToken"/> (a received message's or a pushed delivery's,
    /// for a consumer that settles it later) to end <paramref name="lockDuration"/> from now (the queue's lock duration
    /// when null), which may be sooner than before; returns the new locked-until time.
    /// </summary>
    public Task<DateTimeOffset> RenewLockAsync(Guid lockToken, TimeSpan? lockDuration = null, CancellationToken cancellationToken = default)
    {
        if (lockDuration is { } lease)
        {
            QueueLimits.ValidateLockDuration(lease, QueueLimits.MaxLockDuration);
        }

        return CallAsync(() => Grain.RenewLock(lockToken, lockDuration), cancellationToken);
    }

    /// <summary>
    /// Browses up to <paramref name="maxMessages"/> (1 to <see cref="QueueClientOptions.MaxBatchCount"/>) messages not yet
    /// completed, from <paramref name="fromSequenceNumber"/> on, without locking them.
    /// </summary>
    public async Task<IReadOnlyList<QueueMessage>> PeekAsync(int maxMessages = 10, long fromSequenceNumber = 1, CancellationToken cancellationToken = default)
    {
        QueueLimits.ValidateCount(maxMessages, _options.MaxBatchCount, nameof(maxMessages));
        return await CallAsync(() => Grain.Peek(maxMessages, fromSequenceNumber, cancellationToken), cancellationToken).ConfigureAwait(false);
    }

    private static void ValidateWait(TimeSpan maxWait)
    {
        if (maxWait < TimeSpan.Zero || maxWait > QueueLimits.MaxReceiveWait)
        {
            throw new QueueException(QueueErrorCode.InvalidArgument, $"The wait {maxWait} is outside 0 to {QueueLimits.MaxReceiveWait}.");
        }
    }

    private static ReceivedMessage RequireMessage(ReceivedMessage message) =>
        message ?? throw new ArgumentNullException(nameof(message));
}
