using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace OrleansQueue.Diagnostics;

/// <summary>
/// The metrics and traces of OrleansQueue: one <see cref="Meter"/> and one <see cref="System.Diagnostics.ActivitySource"/>,
/// both named <c>OrleansQueue</c> (subscribe with OpenTelemetry's AddMeter/AddSource). Every measurement is tagged with
/// the queue name (<c>queue</c>).
/// </summary>
public static class QueueInstruments
{
    /// <summary>The name of the meter and of the activity source.</summary>
    public const string Name = "OrleansQueue";

    private static readonly Meter Meter = new(Name, "1.0");

    // Depths published by the queue and dead-letter activations of this silo (one registration per activation).
    private static readonly ConcurrentDictionary<QueueDepth, byte> QueueDepths = new();
    private static readonly ConcurrentDictionary<DeadLetterDepth, byte> DeadLetterDepths = new();

    /// <summary>Traces: <c>enqueue</c>, <c>deliver</c> (each push) and <c>dead-letter</c> activities, tagged with message ids.</summary>
    public static readonly ActivitySource ActivitySource = new(Name, "1.0");

    internal static readonly Counter<long> Enqueued = Meter.CreateCounter<long>("orleansqueue.messages.enqueued", "{message}", "Messages durably stored by sends.");
    internal static readonly Counter<long> Delivered = Meter.CreateCounter<long>("orleansqueue.messages.delivered", "{message}", "Deliveries (locks) handed to receivers and consumers.");
    internal static readonly Counter<long> Redelivered = Meter.CreateCounter<long>("orleansqueue.messages.redelivered", "{message}", "Deliveries of messages delivered before.");
    internal static readonly Counter<long> Completed = Meter.CreateCounter<long>("orleansqueue.messages.completed", "{message}", "Messages completed.");
    internal static readonly Counter<long> Abandoned = Meter.CreateCounter<long>("orleansqueue.messages.abandoned", "{message}", "Failed deliveries: abandoned, handler exceptions, expired locks.");
    internal static readonly Counter<long> DeadLettered = Meter.CreateCounter<long>("orleansqueue.messages.deadlettered", "{message}", "Messages moved to the dead-letter grain.");
    internal static readonly Histogram<double> EnqueueToComplete = Meter.CreateHistogram<double>("orleansqueue.message.enqueue_to_complete", "ms", "Time from the durable send to completion.");
    internal static readonly Histogram<int> DeliveryCount = Meter.CreateHistogram<int>("orleansqueue.message.delivery_count", "{delivery}", "Deliveries a message took until it was completed.");

    // Where a send's time goes in the queue grain: waiting for the write in flight, then its own write.
    internal static readonly Histogram<double> CommitWait = Meter.CreateHistogram<double>("orleansqueue.send.commit_wait", "ms",
        "Time a send call waited in the queue for the storage write in flight before the write that stores it began (group commit).");
    internal static readonly Histogram<int> CommitSize = Meter.CreateHistogram<int>("orleansqueue.send.commit_size", "{message}",
        "New messages stored by one group commit (one segment write, or more when it crosses a segment).");
    internal static readonly Histogram<double> StorageWrite = Meter.CreateHistogram<double>("orleansqueue.storage.write.duration", "ms",
        "Duration of one successful storage write by a queue, tagged record: segment (messages) or cursor (delivery state).");
    internal static readonly Counter<long> StorageWrites = Meter.CreateCounter<long>("orleansqueue.storage.writes", "{write}",
        "Successful storage writes by a queue (storage transactions), tagged record: segment (messages) or cursor (delivery state).");

    internal static readonly ObservableGauge<long> Ready = Meter.CreateObservableGauge(
        "orleansqueue.queue.ready", () => QueueDepths.Keys.Select(d => new Measurement<long>(d.Ready, Queue(d.QueueName))),
        "{message}", "Messages waiting for delivery, per queue active on this silo.");

    internal static readonly ObservableGauge<long> Leased = Meter.CreateObservableGauge(
        "orleansqueue.queue.locked", () => QueueDepths.Keys.Select(d => new Measurement<long>(d.Leased, Queue(d.QueueName))),
        "{message}", "Messages delivered and not yet settled, per queue active on this silo.");

    internal static readonly ObservableGauge<long> InFlight = Meter.CreateObservableGauge(
        "orleansqueue.queue.in_flight", () => QueueDepths.Keys.Select(d => new Measurement<long>(d.InFlight, Queue(d.QueueName))),
        "{message}", "Messages in flight (locked, waiting out a redelivery delay, or being dead-lettered), per queue active on this silo; at MaxMessagesInFlight nothing more is delivered.");

    internal static readonly Counter<long> InFlightLimitReached = Meter.CreateCounter<long>("orleansqueue.queue.in_flight_limit_reached", "{delivery}",
        "Receives and push rounds that got fewer messages than were ready because the queue held MaxMessagesInFlight messages in flight.");

    internal static readonly Counter<long> Errors = Meter.CreateCounter<long>("orleansqueue.errors", "{error}",
        "Failures a queue handled in the background (logged, and retried or redelivered), tagged operation: settle, dispatch, move, reminder, cleanup, deactivation.");

    internal static readonly ObservableGauge<long> DeadLetterDepthGauge = Meter.CreateObservableGauge(
        "orleansqueue.deadletter.depth", () => DeadLetterDepths.Keys.SelectMany(d => d.BySourceQueue.Select(kv => new Measurement<long>(kv.Value, Queue(kv.Key)))),
        "{message}", "Entries in the dead-letter grain, by source queue (reported by the silo hosting the dead-letter grain).");

    internal static KeyValuePair<string, object?> Queue(string name) => new("queue", name);

    /// <summary>Registers an activation's depth for the gauges until the returned handle is disposed.</summary>
    internal static QueueDepth TrackQueue(string queueName)
    {
        var depth = new QueueDepth(queueName);
        QueueDepths.TryAdd(depth, 0);
        return depth;
    }

    internal static DeadLetterDepth TrackDeadLetters()
    {
        var depth = new DeadLetterDepth();
        DeadLetterDepths.TryAdd(depth, 0);
        return depth;
    }

    /// <summary>
    /// A queue activation's last published depth. The activation writes it at the end of its turns; the gauge reads it
    /// from the exporter's thread, so the activation's own collections are never read concurrently.
    /// </summary>
    internal sealed class QueueDepth(string queueName) : IDisposable
    {
        private long _ready;
        private long _leased;
        private long _inFlight;

        public string QueueName { get; } = queueName;

        public long Ready => Volatile.Read(ref _ready);

        public long Leased => Volatile.Read(ref _leased);

        public long InFlight => Volatile.Read(ref _inFlight);

        public void Set(long ready, long leased, long inFlight)
        {
            Volatile.Write(ref _ready, ready);
            Volatile.Write(ref _leased, leased);
            Volatile.Write(ref _inFlight, inFlight);
        }

        public void Dispose() => QueueDepths.TryRemove(this, out _);
    }

    /// <summary>The dead-letter grain's last published counts by source queue (an immutable copy).</summary>
    internal sealed class DeadLetterDepth : IDisposable
    {
        private IReadOnlyDictionary<string, long> _bySourceQueue = new Dictionary<string, long>();

        public IReadOnlyDictionary<string, long> BySourceQueue => Volatile.Read(ref _bySourceQueue);

        public void Set(IReadOnlyDictionary<string, long> counts) => Volatile.Write(ref _bySourceQueue, new Dictionary<string, long>(counts));

        public void Dispose() => DeadLetterDepths.TryRemove(this, out _);
    }
}
