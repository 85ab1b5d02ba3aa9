namespace OrleansQueue;

/// <summary>
/// A consumer that a queue pushes messages to: a grain implementing this interface, or an object in an Orleans client
/// (see <c>QueueClient.SubscribeAsync</c> in OrleansQueue.Client). Subscribe it with <see cref="IQueueGrain.Subscribe"/>.
/// </summary>
/// <remarks>
/// Throwing makes the delivery a failed one (redelivered by the queue's policy, or dead-lettered), whatever the
/// settlement. With auto-complete, returning normally completes the message. With manual settlement, settle later with
/// <see cref="QueueDelivery.LockToken"/> through the queue: complete, abandon, dead-letter or renew the lock.
/// The queue makes at most <see cref="ConsumerOptions.MaxConcurrentCalls"/> calls to a consumer at a time (default 1,
/// so a plain non-reentrant grain never has calls waiting in its inbox) and keeps the rest of the consumer's prefetch
/// locked for it. While a call runs the queue renews its lock, up to <see cref="ConsumerOptions.MaxAutoLockRenewalDuration"/>;
/// the call is not bounded by Orleans' response timeout. A call still running after that is a failed delivery: its
/// message is delivered again by the queue's policy (to another consumer when there is one), and its late result is
/// ignored.
/// </remarks>
[Alias("oq.IQueueConsumer")]
public interface IQueueConsumer : IGrainObserver
{
    /// <summary>Handles one delivery.</summary>
    [Alias("Handle")]
    [ResponseTimeout(QueueLimits.PushResponseTimeout)]
    Task Handle(QueueDelivery delivery);
}
