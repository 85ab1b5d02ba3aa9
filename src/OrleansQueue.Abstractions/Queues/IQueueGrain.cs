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
    /// its earlier sequence number is returned. A message without an id gets a new one here, so a retry of it is
    /// stored again. Refused, with nothing stored, when the batch breaks a limit of <see cref="QueueLimits"/> or the
    /// silo's options, with <see cref="QueueErrorCode.QueueFull"/> or with <see cref="QueueErrorCode.ServerBusy"/>.
    /// </summary>
    [Alias("Enqueue")]
    Task<long[]> Enqueue(OutgoingMessage[] messages);

    /// <summary>
    /// Locks up to <paramref name="maxMessages"/> (1 to the silo's <c>MaxBatchCount</c>) ready messages, oldest first, for
    /// <paramref name="lockDuration"/> (the queue's lock duration when <see langword="null"/>). Returns an empty array
    /// when none is ready, or when the queue holds its <c>MaxMessagesInFlight</c>.
    /// </summary>
    [Alias("Receive")]
    Task<ReceivedMessage[]> Receive(int maxMessages, TimeSpan? lockDuration);

    /// <summary>
    /// Completes the locked messages (1 to the silo's <c>MaxBatchCount</c> tokens): all of them, or, if any token is no
    /// longer valid, none (<see cref="QueueErrorCode.MessageLockLost"/>).
    /// </summary>
    [Alias("Complete")]
    Task Complete(Guid[] lockTokens);

    /// <summary>
    /// Ends the lock as a failed delivery: the message is delivered again after the queue's redelivery policy's delay
    /// (at once by default), or moves to the dead-letter grain once it has had the queue's maximum number of deliveries.
    /// </summary>
    [Alias("Abandon")]
    Task Abandon(Guid lockToken);

    /// <summary>
    /// Renews the lock: it ends <paramref name="lockDuration"/> from now (the queue's lock duration when
    /// <see langword="null"/>), which may be sooner than before; returns the new end.
    /// </summary>
    [Alias("RenewLock")]
    Task<DateTimeOffset> RenewLock(Guid lockToken, TimeSpan? lockDuration);

    /// <summary>
    /// Returns up to <paramref name="maxMessages"/> messages not yet completed, from sequence number
    /// <paramref name="fromSequenceNumber"/> on, without locking them; a cancelled peek stops reading storage.
    /// </summary>
    [Alias("Peek")]
    Task<QueueMessage[]> Peek(int maxMessages, long fromSequenceNumber, CancellationToken cancellationToken = default);

    /// <summary>
    /// Removes every message in the queue (ready, locked, delayed, scheduled, or on its way to the dead-letter grain) and returns
    /// how many were removed; their lock tokens are no longer valid.
    /// </summary>
    [Alias("Purge")]
    Task<long> Purge();

    /// <summary>
    /// Deletes the queue: every record of it is removed from storage (its messages in any state, settings,
    /// subscriptions, counters, duplicate-detection ids), and returns how many messages it held. Its dead letters stay
    /// in the dead-letter grain, naming it. A send that races the delete is either stored before it (and deleted) or
    /// after it, in a new empty queue of the same name; calls made while it runs wait for it. A deletion cut short (a
    /// silo crash, a storage failure) is finished by the queue's next activation before it serves any call.
    /// </summary>
    [Alias("Delete")]
    Task<long> Delete();

    /// <summary>
    /// Cancels the scheduled message with <paramref name="sequenceNumber"/> (as its send returned): it is removed from
    /// storage and never delivered. Returns <see langword="false"/> when the queue holds no scheduled message with that
    /// number: cancelled already, or already deliverable (then it is an ordinary message of the queue).
    /// </summary>
    [Alias("CancelScheduled")]
    Task<bool> CancelScheduled(long sequenceNumber);

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
    /// the consumer's <paramref name="reason"/> (cut to 128 characters) and <paramref name="description"/> (cut so both,
    /// with 2 separating characters, fit in 512).
    /// </summary>
    [Alias("DeadLetter")]
    Task DeadLetter(Guid lockToken, string? reason, string? description);

    /// <summary>
    /// Creates the queue with <paramref name="settings"/> fixed for its lifetime: each setting it leaves null takes the
    /// silo's default of now, and <see cref="Configure"/> and <see cref="ResetSettings"/> are refused
    /// (<see cref="QueueErrorCode.SettingsFixed"/>) until the queue is deleted. Creating it again with the same settings
    /// changes nothing (a retry); <see cref="QueueErrorCode.QueueAlreadyExists"/> when the queue exists otherwise (it
    /// holds or held messages, or was configured). A queue is also created by its first send, with settings that can change.
    /// </summary>
    [Alias("Create")]
    Task Create(QueueSettings settings);

    /// <summary>
    /// Changes the queue's settings that <paramref name="settings"/> sets (stored with the queue); null members leave a
    /// setting as it is. <see cref="QueueErrorCode.SettingsFixed"/> for a queue created with fixed settings.
    /// </summary>
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
    /// 2 minutes unless renewed (the subscription handle from <c>QueueClient.SubscribeAsync</c> renews it). A queue
    /// takes at most 1,000 consumers (<see cref="QueueErrorCode.QuotaExceeded"/> beyond);
    /// <see cref="QueueErrorCode.QuotaExceeded"/> when the cluster's queue registry is full.
    /// </summary>
    [Alias("Subscribe")]
    Task Subscribe(GrainId consumer, ConsumerOptions options);

    /// <summary>
    /// Stops pushing to the consumer. Messages locked for it but not yet pushed are ready again at once; those in its
    /// running calls stay locked, no longer renewed, until settled or their lock runs out.
    /// </summary>
    [Alias("Unsubscribe")]
    Task Unsubscribe(GrainId consumer);
}
