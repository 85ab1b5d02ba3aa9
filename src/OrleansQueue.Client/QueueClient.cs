using Orleans.Runtime;
using Orleans.Runtime.Messaging;

namespace OrleansQueue;

/// <summary>
/// A handle on one queue for Orleans clients and grains: checks arguments before calling, gives every message an id
/// before the first attempt, and retries sends whose outcome is unknown with the same ids.
/// </summary>
/// <remarks>
/// Cancelling a call stops waiting for it (and its retries); a call that already reached the queue may still take
/// effect, except a receive: a cancelled receive locks nothing.
/// </remarks>
public sealed class QueueClient
{
    private IQueueGrain? _grain;
    private readonly IGrainFactory _grainFactory;
    private readonly QueueClientOptions _options;
    private readonly QueueConnectionMonitor? _connection;

    /// <summary>The client's connection monitor (null inside a silo, or without AddOrleansQueueClient).</summary>
    internal QueueConnectionMonitor? Connection => _connection;

    internal QueueClient(IGrainFactory grainFactory, string name, QueueClientOptions options)
    {
        QueueLimits.ValidateQueueName(name);
        ArgumentNullException.ThrowIfNull(grainFactory);
        Name = name;
        _options = options;
        _grainFactory = grainFactory;
        _connection = QueueConnectionMonitor.Of(grainFactory);
    }

    /// <summary>
    /// The queue grain, looked up on first use: a handle made for each send (<c>GetQueue(name).SendAsync(...)</c>)
    /// then costs no <c>GetGrain</c> call, which resolves the grain interface by its type name each time (measured: a
    /// third of the W1 benchmark producer's CPU). Coalesced sends use the reference kept with the queue's shared coalescer.
    /// </summary>
    internal IQueueGrain Grain => _grain ??= _grainFactory.GetGrain<IQueueGrain>(Name);

    /// <summary>The queue name.</summary>
    public string Name { get; }

    /// <summary>
    /// Sends one message; returns its sequence number once it is durably stored. Concurrent sends to the queue share
    /// batch calls (see <see cref="QueueClientOptions.CoalesceSends"/>).
    /// </summary>
    public async Task<long> SendAsync(OutgoingMessage message, CancellationToken cancellationToken = default)
    {
        if (!_options.CoalesceSends)
        {
            var sequenceNumbers = await SendBatchAsync([message], cancellationToken).ConfigureAwait(false);
            return sequenceNumbers[0];
        }

        ArgumentNullException.ThrowIfNull(message);
        QueueLimits.ValidateBatch([message], _options.MaxMessageBodyBytes, _options.MaxBatchCount, _options.MaxBatchBodyBytes);
        if (message.MessageId is null)
        {
            message = message with { MessageId = RandomIds.NewGuid().ToString("N") };
        }

        var coalescer = SendCoalescer.For(_grainFactory, this, _options);
        return await WithRetriesAsync(() => coalescer.SendAsync(message), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Sends one UTF-8 text message; returns its sequence number once it is durably stored.</summary>
    public Task<long> SendAsync(string text, string? messageId = null, CancellationToken cancellationToken = default) =>
        SendAsync(OutgoingMessage.FromText(text, messageId), cancellationToken);

    /// <summary>Sends one UTF-8 text message with a generated id; returns its sequence number once it is durably stored.</summary>
    public Task<long> SendAsync(string text, CancellationToken cancellationToken) =>
        SendAsync(OutgoingMessage.FromText(text), cancellationToken);

    /// <summary>Sends the messages in one call; returns their sequence numbers, in order, once all are durably stored.</summary>
    public async Task<long[]> SendBatchAsync(IEnumerable<OutgoingMessage> messages, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var batch = messages.ToArray();
        QueueLimits.ValidateBatch(batch, _options.MaxMessageBodyBytes, _options.MaxBatchCount, _options.MaxBatchBodyBytes);
        for (var i = 0; i < batch.Length; i++)
        {
            if (batch[i].MessageId is null)
            {
                batch[i] = batch[i] with { MessageId = RandomIds.NewGuid().ToString("N") };
            }
        }

        return await WithRetriesAsync(() => Grain.Enqueue(batch), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Runs a send, retrying it (with the same message ids) while its outcome is unknown.</summary>
    private Task<T> WithRetriesAsync<T>(Func<Task<T>> send, CancellationToken cancellationToken) =>
        RetryWhileUnknownAsync(send, _options.SendAttempts, _options.RetryDelay, cancellationToken, _connection);

    /// <summary>How long calls cut off by a lost gateway connection are made again (every <see cref="FailoverDelay"/>).</summary>
    internal static readonly TimeSpan FailoverWindow = TimeSpan.FromSeconds(60);

    internal static readonly TimeSpan FailoverDelay = TimeSpan.FromMilliseconds(250);

    /// <summary>A call that is not retried on an unknown outcome, but fails over when its gateway connection is lost.</summary>
    private Task CallAsync(Func<Task> call, CancellationToken cancellationToken) =>
        CallAsync(async () =>
        {
            await call().ConfigureAwait(false);
            return true;
        }, cancellationToken);

    /// <inheritdoc cref="CallAsync(Func{Task}, CancellationToken)"/>
    private Task<T> CallAsync<T>(Func<Task<T>> call, CancellationToken cancellationToken) =>
        RetryWhileUnknownAsync(call, attempts: 1, TimeSpan.Zero, cancellationToken, _connection);

    /// <summary>Right after a gateway connection recovered, a send not answered in this time is made again (it is idempotent).</summary>
    internal static readonly TimeSpan SendPatience = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Runs an idempotent call up to <paramref name="attempts"/> times while its outcome is unknown, waiting
    /// <paramref name="delay"/> before the first retry and twice as long before each next one. With a
    /// <paramref name="connection"/>, a call cut off by a lost gateway connection, or failing while no gateway is
    /// connected, is made again every <see cref="FailoverDelay"/> for up to <see cref="FailoverWindow"/>, without
    /// counting as an attempt.
    /// </summary>
    internal static async Task<T> RetryWhileUnknownAsync<T>(Func<Task<T>> call, int attempts, TimeSpan delay, CancellationToken cancellationToken,
        QueueConnectionMonitor? connection = null)
    {
        var failingOverSince = (long?)null;
        for (var attempt = 1; ; )
        {
            using var cut = connection?.ForCall(SendPatience);
            var lost = cut?.Token ?? CancellationToken.None;
            try
            {
                return await WaitUnlessLostAsync(call(), lost, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested && connection is not null
                && (lost.IsCancellationRequested || ex is OperationCanceledException or ConnectionFailedException
                    || (connection.Disconnected && IsOutcomeUnknown(ex)))
                && Environment.TickCount64 - (failingOverSince ??= Environment.TickCount64) < FailoverWindow.TotalMilliseconds)
            {
                await Task.Delay(FailoverDelay, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (attempt < attempts && IsOutcomeUnknown(ex) && !cancellationToken.IsCancellationRequested)
            {
                attempt++;
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                delay *= 2;
            }
        }
    }

    /// <summary>Waits for the call, or throws <see cref="OperationCanceledException"/> once <paramref name="lost"/> or the caller's token is cancelled.</summary>
    private static async Task<T> WaitUnlessLostAsync<T>(Task<T> call, CancellationToken lost, CancellationToken cancellationToken)
    {
        if (!lost.CanBeCanceled)
        {
            return await call.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        using var both = CancellationTokenSource.CreateLinkedTokenSource(lost, cancellationToken);
        return await call.WaitAsync(both.Token).ConfigureAwait(false);
    }

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
    /// Changes the settings that <paramref name="settings"/> sets (lock duration, maximum deliveries, redelivery policy,
    /// fail-fast exceptions) and leaves the others as they are; stored with the queue.
    /// </summary>
    public Task ConfigureAsync(QueueSettings settings, CancellationToken cancellationToken = default) =>
        CallAsync(() => Grain.Configure(settings ?? throw new ArgumentNullException(nameof(settings))), cancellationToken);

    /// <summary>Returns every setting of the queue to the silo's defaults, which then follow the silo's configuration.</summary>
    public Task ResetSettingsAsync(CancellationToken cancellationToken = default) =>
        CallAsync(() => Grain.ResetSettings(), cancellationToken);

    /// <summary>Returns the queue's effective settings.</summary>
    public Task<QueueSettings> GetSettingsAsync(CancellationToken cancellationToken = default) => CallAsync(() => Grain.GetSettings(), cancellationToken);

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

    /// <summary>
    /// Removes every message in the queue; returns how many were removed. A purge is never made twice by the client:
    /// one cut off by a lost gateway connection throws <see cref="TimeoutException"/> at once (its outcome is unknown),
    /// as a second purge would remove messages sent after the first.
    /// </summary>
    public Task<long> PurgeAsync(CancellationToken cancellationToken = default) =>
        CallNeverRepeatedAsync(Grain.Purge, $"The gateway connection was lost while purging queue '{Name}'; the purge may or may not have run. Check the queue's stats before purging again.", cancellationToken);

    /// <summary>
    /// Deletes the queue and every record of it in storage, and returns how many messages it held; its dead letters
    /// stay. Sending to the name afterwards starts a new empty queue (see <see cref="IQueueGrain.Delete"/>).
    /// </summary>
    /// <exception cref="TimeoutException">The gateway connection was lost: the delete may or may not have run, and runs to its end if it started. Deleting again is safe.</exception>
    public Task<long> DeleteAsync(CancellationToken cancellationToken = default) =>
        CallNeverRepeatedAsync(Grain.Delete, $"The gateway connection was lost while deleting queue '{Name}'; the delete may or may not have run. Deleting again is safe.", cancellationToken);

    /// <summary>
    /// A call the client never repeats (a purge or delete repeated would remove what was sent after the first): one
    /// cut off by a lost gateway connection throws <see cref="TimeoutException"/> with <paramref name="lostMessage"/> at once.
    /// </summary>
    private async Task<long> CallNeverRepeatedAsync(Func<Task<long>> call, string lostMessage, CancellationToken cancellationToken)
    {
        using var cut = _connection?.ForCall(Timeout.InfiniteTimeSpan);
        try
        {
            return await WaitUnlessLostAsync(call(), cut?.Token ?? CancellationToken.None, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException(lostMessage);
        }
    }

    /// <summary>
    /// Creates the queue with settings fixed for its lifetime (see <see cref="IQueueGrain.Create"/>): settings left null
    /// take the silo's defaults of now. Creating it again with the same settings is a no-op, so a retry is safe.
    /// </summary>
    /// <exception cref="QueueException"><see cref="QueueErrorCode.QueueAlreadyExists"/> when the queue exists with other settings or holds messages.</exception>
    public Task CreateAsync(QueueSettings settings, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return CallAsync(() => Grain.Create(settings), cancellationToken);
    }

    /// <summary>
    /// Sends <paramref name="message"/> to become deliverable at <paramref name="scheduledEnqueueTime"/> (see
    /// <see cref="OutgoingMessage.ScheduledEnqueueTime"/>); returns its scheduled sequence number once it is stored, or,
    /// for a time not in the future, the sequence number of the message sent at once.
    /// </summary>
    public Task<long> ScheduleMessageAsync(OutgoingMessage message, DateTimeOffset scheduledEnqueueTime, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        return SendAsync(message with { ScheduledEnqueueTime = scheduledEnqueueTime }, cancellationToken);
    }

    /// <summary>
    /// Cancels a scheduled message by the sequence number its send returned; returns <see langword="false"/> when the
    /// queue holds no scheduled message with that number (cancelled already, or already deliverable). A cancel whose
    /// outcome was unknown is made again, and then returns <see langword="false"/> if the first one ran.
    /// </summary>
    public Task<bool> CancelScheduledMessageAsync(long sequenceNumber, CancellationToken cancellationToken = default)
    {
        if (sequenceNumber < QueueLimits.FirstScheduledSequenceNumber)
        {
            throw new QueueException(QueueErrorCode.InvalidArgument,
                $"{sequenceNumber} is not a scheduled sequence number (those are at least {QueueLimits.FirstScheduledSequenceNumber}).");
        }

        return CallAsync(() => Grain.CancelScheduled(sequenceNumber), cancellationToken);
    }

    /// <summary>Returns the queue's counters.</summary>
    public Task<QueueStats> GetStatsAsync(CancellationToken cancellationToken = default) => CallAsync(() => Grain.GetStats(), cancellationToken);

    private static void ValidateWait(TimeSpan maxWait)
    {
        if (maxWait < TimeSpan.Zero || maxWait > QueueLimits.MaxReceiveWait)
        {
            throw new QueueException(QueueErrorCode.InvalidArgument, $"The wait {maxWait} is outside 0 to {QueueLimits.MaxReceiveWait}.");
        }
    }

    private static ReceivedMessage RequireMessage(ReceivedMessage message) =>
        message ?? throw new ArgumentNullException(nameof(message));

    private static bool IsOutcomeUnknown(Exception ex) =>
        ex is TimeoutException or SiloUnavailableException or OrleansMessageRejectionException
            or QueueException { Code: QueueErrorCode.StorageFailed or QueueErrorCode.ServerBusy };
}
