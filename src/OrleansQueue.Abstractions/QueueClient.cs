using Orleans.Runtime;

namespace OrleansQueue;

/// <summary>Options of a <see cref="QueueClient"/>.</summary>
public sealed class QueueClientOptions
{
    /// <summary>Largest body the client lets through before calling; keep it equal to the silo's limit. Default 256 KiB.</summary>
    public int MaxMessageBodyBytes { get; set; } = QueueLimits.DefaultMaxMessageBodyBytes;

    /// <summary>Most messages in one send or receive call. Default 1,000.</summary>
    public int MaxBatchCount { get; set; } = 1000;

    /// <summary>Largest total of bodies in one send call. Default 4 MiB.</summary>
    public long MaxBatchBodyBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>
    /// How many times a send whose outcome is unknown (timeout, silo lost, message rejected, storage write failed) is tried in all.
    /// Retries reuse the message ids, so the queue stores each message once. Default 3; 1 turns retries off.
    /// </summary>
    public int SendAttempts { get; set; } = 3;

    /// <summary>Pause before the first retry, doubled for each further one. Default 200 ms.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMilliseconds(200);
}

/// <summary>
/// A handle on one queue for Orleans clients and grains: checks arguments before calling, gives every message an id
/// before the first attempt, and retries sends whose outcome is unknown with the same ids.
/// </summary>
public sealed class QueueClient
{
    private readonly IQueueGrain _grain;
    private readonly QueueClientOptions _options;

    internal QueueClient(IGrainFactory grainFactory, string name, QueueClientOptions options)
    {
        QueueLimits.ValidateQueueName(name);
        ArgumentNullException.ThrowIfNull(grainFactory);
        Name = name;
        _options = options;
        _grain = grainFactory.GetGrain<IQueueGrain>(name);
    }

    /// <summary>The queue name.</summary>
    public string Name { get; }

    /// <summary>Sends one message; returns its sequence number once it is durably stored.</summary>
    public async Task<long> SendAsync(OutgoingMessage message, CancellationToken cancellationToken = default)
    {
        var sequenceNumbers = await SendBatchAsync([message], cancellationToken).ConfigureAwait(false);
        return sequenceNumbers[0];
    }

    /// <summary>Sends one UTF-8 text message; returns its sequence number once it is durably stored.</summary>
    public Task<long> SendAsync(string text, string? messageId = null, CancellationToken cancellationToken = default) =>
        SendAsync(OutgoingMessage.FromText(text, messageId), cancellationToken);

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
                batch[i] = batch[i] with { MessageId = Guid.NewGuid().ToString("N") };
            }
        }

        var delay = _options.RetryDelay;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await _grain.Enqueue(batch).WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (attempt < _options.SendAttempts && IsOutcomeUnknown(ex) && !cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                delay *= 2;
            }
        }
    }

    /// <summary>Leases up to <paramref name="maxMessages"/> ready messages; an empty list when none is ready.</summary>
    public async Task<IReadOnlyList<ReceivedMessage>> ReceiveAsync(int maxMessages = 1, TimeSpan? leaseDuration = null, CancellationToken cancellationToken = default)
    {
        QueueLimits.ValidateCount(maxMessages, _options.MaxBatchCount, nameof(maxMessages));
        if (leaseDuration is { } lease)
        {
            QueueLimits.ValidateLease(lease, QueueLimits.MaxLeaseDuration);
        }

        return await _grain.Receive(maxMessages, leaseDuration).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Completes the message: it is removed from the queue for good.</summary>
    public Task CompleteAsync(ReceivedMessage message, CancellationToken cancellationToken = default) =>
        CompleteAsync([RequireMessage(message).LockToken], cancellationToken);

    /// <summary>Completes the messages with these lock tokens: all, or none if any lock was lost.</summary>
    public Task CompleteAsync(IEnumerable<Guid> lockTokens, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(lockTokens);
        var tokens = lockTokens.ToArray();
        QueueLimits.ValidateCount(tokens.Length, _options.MaxBatchCount, "The number of lock tokens");
        return _grain.Complete(tokens).WaitAsync(cancellationToken);
    }

    /// <summary>Releases the message's lease so it is delivered again at once.</summary>
    public Task AbandonAsync(ReceivedMessage message, CancellationToken cancellationToken = default) =>
        _grain.Abandon(RequireMessage(message).LockToken).WaitAsync(cancellationToken);

    /// <summary>Extends the message's lease from now; returns the new end of the lease.</summary>
    public Task<DateTimeOffset> RenewLockAsync(ReceivedMessage message, TimeSpan? leaseDuration = null, CancellationToken cancellationToken = default)
    {
        if (leaseDuration is { } lease)
        {
            QueueLimits.ValidateLease(lease, QueueLimits.MaxLeaseDuration);
        }

        return _grain.RenewLock(RequireMessage(message).LockToken, leaseDuration).WaitAsync(cancellationToken);
    }

    /// <summary>Browses up to <paramref name="maxMessages"/> messages not yet completed, without leasing them.</summary>
    public async Task<IReadOnlyList<QueueMessage>> PeekAsync(int maxMessages = 10, long fromSequenceNumber = 1, CancellationToken cancellationToken = default)
    {
        QueueLimits.ValidateCount(maxMessages, _options.MaxBatchCount, nameof(maxMessages));
        return await _grain.Peek(maxMessages, fromSequenceNumber).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Removes every message in the queue; returns how many were removed.</summary>
    public Task<long> PurgeAsync(CancellationToken cancellationToken = default) => _grain.Purge().WaitAsync(cancellationToken);

    /// <summary>Returns the queue's counters.</summary>
    public Task<QueueStats> GetStatsAsync(CancellationToken cancellationToken = default) => _grain.GetStats().WaitAsync(cancellationToken);

    private static ReceivedMessage RequireMessage(ReceivedMessage message) =>
        message ?? throw new ArgumentNullException(nameof(message));

    private static bool IsOutcomeUnknown(Exception ex) =>
        ex is TimeoutException or SiloUnavailableException or OrleansMessageRejectionException
            or QueueException { Code: QueueErrorCode.StorageFailed };
}

/// <summary>Gets <see cref="QueueClient"/> handles from an <see cref="IGrainFactory"/> (an <c>IClusterClient</c> or a grain's factory).</summary>
public static class GrainFactoryQueueExtensions
{
    /// <summary>Returns a handle on the queue named <paramref name="name"/>; throws <see cref="QueueException"/> for an invalid name.</summary>
    public static QueueClient GetQueue(this IGrainFactory grainFactory, string name, QueueClientOptions? options = null) =>
        new(grainFactory, name, options ?? new QueueClientOptions());
}
