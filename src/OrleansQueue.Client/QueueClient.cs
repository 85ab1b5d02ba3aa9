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
public sealed partial class QueueClient
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
}
