namespace OrleansQueue;

/// <summary>
/// A durable FIFO queue; the grain key is the queue name (see <see cref="QueueLimits.ValidateQueueName"/>).
/// Prefer the <c>QueueClient</c> handle from <c>grainFactory.GetQueue(name)</c> (OrleansQueue.Client):
/// it checks arguments before calling and generates message ids that make retries safe.
/// </summary>
[Alias("oq.IQueueGrain")]
public interface IQueueGrain : IGrainWithStringKey
{
    /// <summary>
    /// Stores the messages and returns their sequence numbers, in order, once they are durably written.
    /// A message whose id was already stored within the duplicate-detection window is not stored again:
    /// its earlier sequence number is returned.
    /// </summary>
    [Alias("Enqueue")]
    Task<long[]> Enqueue(OutgoingMessage[] messages);

    /// <summary>
    /// Leases up to <paramref name="maxMessages"/> ready messages, oldest first, for <paramref name="lockDuration"/>
    /// (the queue's default when <see langword="null"/>). Returns an empty array when none is ready.
    /// </summary>
    [Alias("Receive")]
    Task<ReceivedMessage[]> Receive(int maxMessages, TimeSpan? lockDuration);

    /// <summary>Completes the leased messages: all of them, or, if any token is no longer valid, none (<see cref="QueueErrorCode.MessageLockLost"/>).</summary>
    [Alias("Complete")]
    Task Complete(Guid[] lockTokens);

    /// <summary>Releases the lease so the message is delivered again at once.</summary>
    [Alias("Abandon")]
    Task Abandon(Guid lockToken);

    /// <summary>Extends the lease by <paramref name="lockDuration"/> from now (the queue's default when <see langword="null"/>) and returns the new end.</summary>
    [Alias("RenewLock")]
    Task<DateTimeOffset> RenewLock(Guid lockToken, TimeSpan? lockDuration);

    /// <summary>Returns up to <paramref name="maxMessages"/> messages not yet completed, from sequence number <paramref name="fromSequenceNumber"/> on, without leasing them.</summary>
    [Alias("Peek")]
    Task<QueueMessage[]> Peek(int maxMessages, long fromSequenceNumber, CancellationToken cancellationToken = default);

    /// <summary>Removes every message in the queue, leased or not, and returns how many were removed.</summary>
    [Alias("Purge")]
    Task<long> Purge();

    /// <summary>Returns the queue's counters.</summary>
    [Alias("GetStats")]
    Task<QueueStats> GetStats();

    /// <summary>
    /// Like <see cref="Receive"/>, but when nothing is ready waits up to <paramref name="maxWait"/> (at most 20 s) for
    /// a message, so a pulling client need not poll. A cancelled call locks nothing: messages it locked before the
    /// cancellation reached it are released, and <see cref="ReleaseReceive"/> with the same <paramref name="receiveId"/>
    /// releases what a call that returned just as its caller cancelled had locked.
    /// </summary>
    [Alias("ReceiveWait")]
    Task<ReceivedMessage[]> ReceiveWait(int maxMessages, TimeSpan? lockDuration, TimeSpan maxWait, Guid receiveId, CancellationToken cancellationToken);

    /// <summary>
    /// Releases the messages that the receive with <paramref name="receiveId"/> (in the last two minutes) locked and
    /// that are still locked, as if never delivered: they are ready again at once, their delivery counts as before.
    /// </summary>
    [Alias("ReleaseReceive")]
    Task ReleaseReceive(Guid receiveId);

    /// <summary>
    /// Ends the lock and moves the message to the dead-letter grain with <see cref="DeadLetterReason.RejectedByConsumer"/>,
    /// the consumer's <paramref name="reason"/> (cut to 128 characters) and <paramref name="description"/> (cut so both fit in 512).
    /// </summary>
    [Alias("DeadLetter")]
    Task DeadLetter(Guid lockToken, string? reason, string? description);

    /// <summary>Changes the queue's settings that <paramref name="settings"/> sets (stored with the queue); null members leave a setting as it is.</summary>
    [Alias("Configure")]
    Task Configure(QueueSettings settings);

    /// <summary>Returns every setting of the queue to the silo's defaults (<c>OrleansQueueOptions</c>).</summary>
    [Alias("ResetSettings")]
    Task ResetSettings();

    /// <summary>Returns the queue's effective settings.</summary>
    [Alias("GetSettings")]
    Task<QueueSettings> GetSettings();

    /// <summary>
    /// Subscribes a consumer, by its <see cref="GrainId"/> (a grain implementing <see cref="IQueueConsumer"/>, or an
    /// object reference from an Orleans client), so the queue pushes messages to it; subscribing again updates the
    /// options. The id, not a typed reference, is passed so that silos without the consumer's grain class can host
    /// the queue. A grain stays subscribed until <see cref="Unsubscribe"/>; a client object's subscription lasts
    /// 2 minutes unless renewed (the subscription handle from <c>QueueClient.SubscribeAsync</c> renews it).
    /// </summary>
    [Alias("Subscribe")]
    Task Subscribe(GrainId consumer, ConsumerOptions options);

    /// <summary>Stops pushing to the consumer; its unsettled deliveries stay leased until settled or expired.</summary>
    [Alias("Unsubscribe")]
    Task Unsubscribe(GrainId consumer);
}
