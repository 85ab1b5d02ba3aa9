namespace OrleansQueue;

/// <summary>Runs a per-delivery consumer over batches: each delivery in order, failures collected.</summary>
internal sealed class BatchingConsumer(IQueueConsumer inner) : IQueueConsumer, IQueueBatchConsumer
{
    public Task Handle(QueueDelivery delivery) => inner.Handle(delivery);

    public async Task<DeliveryFailure[]?> HandleBatch(QueueDelivery[] deliveries)
    {
        List<DeliveryFailure>? failures = null;
        foreach (var delivery in deliveries)
        {
            try
            {
                await inner.Handle(delivery).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                (failures ??= []).Add(DeliveryFailure.From(delivery, ex));
            }
        }

        return failures?.ToArray();
    }
}
