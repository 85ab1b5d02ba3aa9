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

    /// <summary>Traces: <c>enqueue</c>, <c>deliver</c> (each push) and <c>dead-letter</c> activities, tagged with message ids.</summary>
    public static readonly ActivitySource ActivitySource = new(Name, "1.0");

    internal static readonly Counter<long> Enqueued = Meter.CreateCounter<long>("orleansqueue.messages.enqueued", "{message}", "Messages durably stored by sends.");
    internal static readonly Counter<long> Delivered = Meter.CreateCounter<long>("orleansqueue.messages.delivered", "{message}", "Deliveries (leases) handed to receivers and consumers.");
    internal static readonly Counter<long> Redelivered = Meter.CreateCounter<long>("orleansqueue.messages.redelivered", "{message}", "Deliveries of messages delivered before.");
    internal static readonly Counter<long> Completed = Meter.CreateCounter<long>("orleansqueue.messages.completed", "{message}", "Messages completed.");
    internal static readonly Counter<long> Abandoned = Meter.CreateCounter<long>("orleansqueue.messages.abandoned", "{message}", "Failed deliveries: abandoned, handler exceptions, expired leases.");
    internal static readonly Counter<long> DeadLettered = Meter.CreateCounter<long>("orleansqueue.messages.deadlettered", "{message}", "Messages moved to the dead-letter grain.");
    internal static readonly Histogram<double> EnqueueToComplete = Meter.CreateHistogram<double>("orleansqueue.message.enqueue_to_complete", "ms", "Time from the durable send to completion.");
    internal static readonly Histogram<int> DeliveryCount = Meter.CreateHistogram<int>("orleansqueue.message.delivery_count", "{delivery}", "Deliveries a message took until it was completed.");

    internal static KeyValuePair<string, object?> Queue(string name) => new("queue", name);
}
