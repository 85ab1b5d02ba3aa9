using System.Diagnostics;
using OrleansQueue.Diagnostics;
using OrleansQueue.Storage;

namespace OrleansQueue.Internal;

/// <summary>Where the queue grain reports to <see cref="QueueInstruments"/>.</summary>
internal sealed partial class QueueGrain
{
    private void RecordEnqueued(int count) => QueueInstruments.Enqueued.Add(count, QueueInstruments.Queue(QueueName));

    private void RecordLeases(List<Lease> leases)
    {
        if (leases.Count == 0)
        {
            return;
        }

        var tag = QueueInstruments.Queue(QueueName);
        QueueInstruments.Delivered.Add(leases.Count, tag);
        var again = leases.Count(l => l.DeliveryCount > 1);
        if (again > 0)
        {
            QueueInstruments.Redelivered.Add(again, tag);
        }
    }

    private void RecordCompleted(List<(StoredMessage Message, int DeliveryCount)> completed)
    {
        var tag = QueueInstruments.Queue(QueueName);
        var now = _time.GetUtcNow();
        QueueInstruments.Completed.Add(completed.Count, tag);
        foreach (var (message, deliveryCount) in completed)
        {
            QueueInstruments.EnqueueToComplete.Record((now - message.EnqueuedAt).TotalMilliseconds, tag);
            QueueInstruments.DeliveryCount.Record(deliveryCount, tag);
        }
    }

    private void RecordAbandoned(int count) => QueueInstruments.Abandoned.Add(count, QueueInstruments.Queue(QueueName));

    private void RecordDeadLettered() => QueueInstruments.DeadLettered.Add(1, QueueInstruments.Queue(QueueName));

    private Activity? StartActivity(string name, string? messageId = null)
    {
        var activity = QueueInstruments.ActivitySource.StartActivity(name, ActivityKind.Internal);
        activity?.SetTag("queue", QueueName);
        if (messageId is not null)
        {
            activity?.SetTag("message.id", messageId);
        }

        return activity;
    }
}
