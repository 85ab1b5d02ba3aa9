using OrleansQueue.Delivery;
using OrleansQueue.Storage;

namespace OrleansQueue.Push;

/// <summary>
/// A subscribed consumer: the messages locked for it (<see cref="Reserved"/>: in its running calls and in
/// <see cref="Buffer"/>, waiting for a call slot) and its running calls, at most MaxConcurrentCalls.
/// </summary>
internal sealed class ConsumerState(SubscriptionRecord record, IQueueConsumer reference, IQueueBatchConsumer batchReference)
{
    public SubscriptionRecord Record { get; set; } = record;
    public IQueueConsumer Reference { get; } = reference;
    public IQueueBatchConsumer BatchReference { get; } = batchReference;
    public int Reserved { get; set; }
    public Queue<Lease> Buffer { get; } = new();
    public List<PushCall> Calls { get; } = [];

    /// <summary>A call ran too long and has not returned: the consumer gets nothing new until it does.</summary>
    public bool Stuck => Calls.Exists(c => c.TimedOut);

    /// <summary>
    /// A client consumer whose client was not reachable (it may be reconnecting to a silo that just started): it
    /// gets nothing until <see cref="PausedUntil"/> or its next renewal; its subscription lapses if it never renews.
    /// </summary>
    public bool Paused { get; set; }
    public DateTimeOffset PausedUntil { get; set; }
    public TimeSpan PauseBackoff { get; set; }

    public bool HasCredit => !Stuck && !Paused && Reserved < Record.Prefetch;
    public int Credit => Stuck || Paused ? 0 : Math.Max(0, Record.Prefetch - Reserved);
    public int MaxBatchSize => Math.Max(1, Record.MaxBatchSize);
    public int MaxConcurrentCalls => Math.Max(1, Record.MaxConcurrentCalls);
    public TimeSpan MaxAutoLockRenewalDuration => Record.MaxAutoLockRenewalDuration ?? ConsumerOptions.DefaultMaxAutoLockRenewalDuration;
}
