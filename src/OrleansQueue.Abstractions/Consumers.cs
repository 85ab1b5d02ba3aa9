namespace OrleansQueue;

/// <summary>
/// A consumer that a queue pushes messages to: a grain implementing this interface, or an object in an Orleans client
/// (see <see cref="QueueClient.SubscribeAsync(IQueueConsumer, ConsumerOptions?, CancellationToken)"/>). Subscribe it with <see cref="IQueueGrain.Subscribe"/>.
/// </summary>
/// <remarks>
/// With auto-complete, returning normally completes the message and throwing makes it a failed delivery (redelivered
/// by the queue's policy, or dead-lettered). With manual settlement, settle later with
/// <see cref="QueueDelivery.LockToken"/> through the queue: complete, abandon, dead-letter or renew the lock.
/// The queue makes at most <see cref="ConsumerOptions.MaxConcurrentCalls"/> calls to a consumer at a time (default 1,
/// so a plain non-reentrant grain never has calls waiting in its inbox) and keeps the rest of the consumer's prefetch
/// locked for it. While a call runs the queue renews its lock, up to <see cref="ConsumerOptions.MaxAutoLockRenewalDuration"/>;
/// the call is not bounded by Orleans' response timeout. A call still running after that is a failed delivery: its
/// message goes to another consumer, and its late result is ignored.
/// </remarks>
[Alias("oq.IQueueConsumer")]
public interface IQueueConsumer : IGrainObserver
{
    /// <summary>Handles one delivery.</summary>
    [Alias("Handle")]
    [ResponseTimeout(QueueLimits.PushResponseTimeout)]
    Task Handle(QueueDelivery delivery);
}

/// <summary>
/// A consumer that takes pushed messages in batches of up to <see cref="ConsumerOptions.MaxBatchSize"/>: one call
/// carries many deliveries, which is what makes push fast. Objects subscribed from an Orleans client get this for free
/// (their <see cref="IQueueConsumer.Handle"/> runs once per delivery, in order); a grain implements it itself and is
/// subscribed with <c>QueueClient.SubscribeAsync(IQueueBatchConsumer, ...)</c>.
/// </summary>
/// <remarks>
/// With auto-complete, every delivery not listed in the returned failures is completed; a listed one is a failed
/// delivery (redelivered by the queue's policy, or dead-lettered), and a call that throws fails the whole batch.
/// With manual settlement the return value is ignored: settle each delivery with its lock token.
/// </remarks>
[Alias("oq.IQueueBatchConsumer")]
public interface IQueueBatchConsumer : IGrainObserver
{
    /// <summary>Handles the deliveries; returns the ones that failed (null or empty when all succeeded).</summary>
    [Alias("HandleBatch")]
    [ResponseTimeout(QueueLimits.PushResponseTimeout)]
    Task<DeliveryFailure[]?> HandleBatch(QueueDelivery[] deliveries);
}

/// <summary>A delivery of a batch that its handler failed.</summary>
[GenerateSerializer, Immutable, Alias("oq.DeliveryFailure")]
public sealed record DeliveryFailure
{
    /// <summary>The failed delivery's lock token.</summary>
    [Id(0)] public required Guid LockToken { get; init; }

    /// <summary>The full name of the exception type (matched against the queue's fail-fast types).</summary>
    [Id(1)] public required string ExceptionType { get; init; }

    /// <summary>The exception's message, kept with the message's delivery history.</summary>
    [Id(2)] public string? Message { get; init; }

    /// <summary>The failure of <paramref name="delivery"/> by <paramref name="exception"/>.</summary>
    public static DeliveryFailure From(QueueDelivery delivery, Exception exception) => new()
    {
        LockToken = (delivery ?? throw new ArgumentNullException(nameof(delivery))).LockToken,
        ExceptionType = (exception ?? throw new ArgumentNullException(nameof(exception))).GetType().FullName ?? exception.GetType().Name,
        Message = exception.Message,
    };
}

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

/// <summary>One pushed delivery of a message.</summary>
[GenerateSerializer, Immutable, Alias("oq.QueueDelivery")]
public sealed record QueueDelivery
{
    /// <summary>The queue the message comes from.</summary>
    [Id(0)] public required string QueueName { get; init; }

    /// <summary>The message, with its delivery count.</summary>
    [Id(1)] public required QueueMessage Message { get; init; }

    /// <summary>Settles this delivery; a token from an earlier delivery is rejected.</summary>
    [Id(2)] public required Guid LockToken { get; init; }

    /// <summary>When the lock ends unless renewed (the queue renews it while the handler call runs).</summary>
    [Id(3)] public required DateTimeOffset LockedUntil { get; init; }

    /// <summary>Whether the queue settles the delivery from the handler's outcome.</summary>
    [Id(4)] public bool AutoComplete { get; init; }
}

/// <summary>How a consumer is subscribed to a queue.</summary>
[GenerateSerializer, Immutable, Alias("oq.ConsumerOptions")]
public sealed record ConsumerOptions
{
    /// <summary>
    /// Most messages locked for the consumer at once (its prefetch): the ones its calls are handling and the ones the
    /// queue holds ready to push to it next. Default 10; 1 to 1,000.
    /// </summary>
    [Id(0)] public int Prefetch { get; init; } = 10;

    /// <summary>Settle from the handler's outcome (default), or leave settlement to the consumer.</summary>
    [Id(1)] public bool AutoComplete { get; init; } = true;

    /// <summary>
    /// Most deliveries pushed in one call (1 to 1,000; default 1: one call per message). Above 1 the consumer must be an
    /// <see cref="IQueueBatchConsumer"/>, or an object subscribed from an Orleans client.
    /// </summary>
    [Id(2)] public int MaxBatchSize { get; init; } = 1;

    /// <summary>
    /// Most calls the queue makes to the consumer at once (Service Bus's name). Default 1: a plain non-reentrant grain
    /// handles one call at a time, and calls waiting in its inbox would wait out their locks. Raise it only for
    /// consumers that run calls concurrently (reentrant grains, stateless workers, client objects). 1 to 1,000.
    /// </summary>
    [Id(3)] public int MaxConcurrentCalls { get; init; } = 1;

    /// <summary>
    /// Longest a handler call may run (Service Bus's name): the queue renews the call's locks until then, and a call
    /// still running after it is a failed delivery, its messages delivered again (to another consumer when there is
    /// one) and its late result ignored; the consumer gets nothing new until that call returns. Default 30 minutes;
    /// 1 second to 12 hours.
    /// </summary>
    [Id(4)] public TimeSpan MaxAutoLockRenewalDuration { get; init; } = DefaultMaxAutoLockRenewalDuration;

    /// <summary>The default of <see cref="MaxAutoLockRenewalDuration"/>: 30 minutes.</summary>
    public static readonly TimeSpan DefaultMaxAutoLockRenewalDuration = TimeSpan.FromMinutes(30);

    /// <summary>Throws <see cref="QueueException"/> unless every option is in its range.</summary>
    public void Validate()
    {
        QueueLimits.ValidateCount(Prefetch, 1000, nameof(Prefetch));
        QueueLimits.ValidateCount(MaxBatchSize, 1000, nameof(MaxBatchSize));
        QueueLimits.ValidateCount(MaxConcurrentCalls, 1000, nameof(MaxConcurrentCalls));
        if (MaxAutoLockRenewalDuration < QueueLimits.MinLockDuration || MaxAutoLockRenewalDuration > QueueLimits.MaxLockDuration)
        {
            throw new QueueException(QueueErrorCode.InvalidArgument,
                $"{nameof(MaxAutoLockRenewalDuration)} {MaxAutoLockRenewalDuration} is outside {QueueLimits.MinLockDuration} to {QueueLimits.MaxLockDuration}.");
        }
    }
}
