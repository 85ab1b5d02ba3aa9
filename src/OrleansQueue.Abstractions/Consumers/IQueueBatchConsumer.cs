namespace OrleansQueue;

/// <summary>
/// A consumer that takes pushed messages in batches of up to <see cref="ConsumerOptions.MaxBatchSize"/>: one call
/// carries many deliveries, which is what makes push fast. Objects subscribed from an Orleans client get this for free
/// (their <see cref="IQueueConsumer.Handle"/> runs once per delivery, in order); a grain implements it itself and is
/// subscribed with <c>QueueClient.SubscribeAsync(IQueueBatchConsumer, ...)</c>.
/// </summary>
/// <remarks>
/// A call that throws fails the whole batch, whatever the settlement. With auto-complete, every delivery not listed
/// in the returned failures is completed; a listed one is a failed delivery (redelivered by the queue's policy, or
/// dead-lettered). With manual settlement the return value is ignored: settle each delivery with its lock token.
/// </remarks>
[Alias("oq.IQueueBatchConsumer")]
public interface IQueueBatchConsumer : IGrainObserver
{
    /// <summary>Handles the deliveries; returns the ones that failed (null or empty when all succeeded).</summary>
    [Alias("HandleBatch")]
    [ResponseTimeout(QueueLimits.PushResponseTimeout)]
    Task<DeliveryFailure[]?> HandleBatch(QueueDelivery[] deliveries);
}
