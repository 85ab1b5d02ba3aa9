using System.Diagnostics;
using OrleansQueue.Appending;
using OrleansQueue.DeadLetters;
using OrleansQueue.Delivery;
using OrleansQueue.Diagnostics;
using OrleansQueue.Internal;
using OrleansQueue.Retention;
using OrleansQueue.Storage;

namespace OrleansQueue.Queues;

/// <summary>Where the queue grain reports to <see cref="QueueInstruments"/>.</summary>
internal sealed partial class QueueGrain
{
    private QueueInstruments.QueueDepth? _depth;

    private void RecordEnqueued(int count)
    {
        QueueInstruments.Enqueued.Add(count, QueueInstruments.Queue(QueueName));
        PublishDepth();
    }

    /// <summary>Publishes the ready and leased counts for the depth gauges (read on the exporter's thread).</summary>
    private void PublishDepth()
    {
        if (_core is { } core)
        {
            (_depth ??= QueueInstruments.TrackQueue(QueueName)).Set(core.ReadyCount, core.LockedCount, core.InFlightCount);
        }
    }

    /// <summary>Counts a failure handled in the background (it is logged where it happens).</summary>
    private void RecordError(string operation) =>
        QueueInstruments.Errors.Add(1, QueueInstruments.Queue(QueueName), new KeyValuePair<string, object?>("operation", operation));

    /// <summary>Counts a receive or push round held back by the in-flight limit (it got fewer than it asked for).</summary>
    private void RecordInFlightLimit(QueueCore core, int asked, int got)
    {
        if (got < asked && core.InFlightLimitReached && core.ReadyCount > 0)
        {
            QueueInstruments.InFlightLimitReached.Add(1, QueueInstruments.Queue(QueueName));
        }
    }

    private void StopPublishingDepth()
    {
        _depth?.Dispose();
        _depth = null;
    }

    private void RecordLeases(List<Lease> leases)
    {
        if (leases.Count == 0)
        {
            return;
        }

        PublishDepth();
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
        PublishDepth();
        var tag = QueueInstruments.Queue(QueueName);
        var now = _time.GetUtcNow();
        QueueInstruments.Completed.Add(completed.Count, tag);
        foreach (var (message, deliveryCount) in completed)
        {
            QueueInstruments.EnqueueToComplete.Record((now - message.EnqueuedAt).TotalMilliseconds, tag);
            QueueInstruments.DeliveryCount.Record(deliveryCount, tag);
        }
    }

    /// <summary>One group commit, once written: how long each of its send calls waited for its write to start, and how many messages it stored.</summary>
    private void RecordCommit(IReadOnlyList<EnqueueRequest> requests, int newMessages, long writeStart)
    {
        var tag = QueueInstruments.Queue(QueueName);
        if (QueueInstruments.CommitWait.Enabled)
        {
            foreach (var request in requests)
            {
                QueueInstruments.CommitWait.Record(_time.GetElapsedTime(request.StagedAt, writeStart).TotalMilliseconds, tag);
            }
        }

        if (newMessages > 0)
        {
            QueueInstruments.CommitSize.Record(newMessages, tag);
        }
    }

    /// <summary>One storage write of a queue record, timed for <c>orleansqueue.storage.write.duration</c> when it succeeds.</summary>
    private async Task WriteTimedAsync<T>(string record, string stateName, IGrainState<T> state)
    {
        using var call = EnterStorage();
        var started = _time.GetTimestamp();
        await _storage.WriteStateAsync(stateName, this.GetGrainId(), state);
        RecordStorageWrite(record, started);
    }

    /// <summary>Deletes one queue record.</summary>
    private async Task ClearRecordAsync<T>(string stateName, IGrainState<T> state)
    {
        using var call = EnterStorage();
        await _storage.ClearStateAsync(stateName, this.GetGrainId(), state);
    }

    private void RecordStorageWrite(string record, long started)
    {
        KeyValuePair<string, object?> queue = QueueInstruments.Queue(QueueName), kind = new("record", record);
        QueueInstruments.StorageWrite.Record(_time.GetElapsedTime(started).TotalMilliseconds, queue, kind);
        QueueInstruments.StorageWrites.Add(1, queue, kind);
    }

    /// <summary>The queue's records as a <see cref="SegmentedLog{TSegment, TEntry}"/> stores them, each write timed as a <paramref name="record"/> write.</summary>
    private sealed class TimedRecordStore(QueueGrain grain, string record) : ILogRecordStore
    {
        private readonly GrainRecordStore _records = new(grain._storage, grain._options.StorageName, grain.GetGrainId());

        public async Task<(T? Record, string? ETag)> ReadAsync<T>(string name)
            where T : class
        {
            using var call = grain.EnterStorage();
            return await _records.ReadAsync<T>(name);
        }

        public async Task<string?> WriteAsync<T>(string name, T value, string? etag)
            where T : class
        {
            using var call = grain.EnterStorage();
            var started = grain._time.GetTimestamp();
            var written = await _records.WriteAsync(name, value, etag);
            grain.RecordStorageWrite(record, started);
            return written;
        }

        public async Task DeleteAsync<T>(string name, T value, string? etag)
            where T : class
        {
            using var call = grain.EnterStorage();
            await _records.DeleteAsync(name, value, etag);
        }
    }

    private void RecordAbandoned(int count)
    {
        QueueInstruments.Abandoned.Add(count, QueueInstruments.Queue(QueueName));
        PublishDepth();
    }

    private void RecordDeadLettered(int count)
    {
        QueueInstruments.DeadLettered.Add(count, QueueInstruments.Queue(QueueName));
        PublishDepth();
    }

    /// <summary>
    /// Starts one of the queue's activities (null when nobody listens). <paramref name="linkTo"/> is the
    /// <c>traceparent</c> stored with the message: a delivery or dead-lettering links to the send that stored it.
    /// </summary>
    private Activity? StartActivity(string name, string? messageId = null, string? linkTo = null)
    {
        var source = QueueInstruments.ActivitySource;
        if (!source.HasListeners())
        {
            return null;
        }

        ActivityLink[]? links = linkTo is not null && ActivityContext.TryParse(linkTo, null, isRemote: true, out var sent) ? [new ActivityLink(sent)] : null;
        var activity = source.StartActivity(name, ActivityKind.Internal, parentContext: default, links: links);
        activity?.SetTag("queue", QueueName);
        if (messageId is not null)
        {
            activity?.SetTag("message.id", messageId);
        }

        return activity;
    }

    /// <summary>
    /// The activities of delivery attempts handed out together (a pull's leases, a pushed batch), one per lease. None
    /// of them stays current: they are siblings under the caller's activity, not each other's children. Null when
    /// nobody listens.
    /// </summary>
    private Activity?[]? StartDeliveries(IReadOnlyList<Lease> leases, string mode)
    {
        if (!QueueInstruments.ActivitySource.HasListeners())
        {
            return null;
        }

        var caller = Activity.Current;
        var activities = new Activity?[leases.Count];
        for (var i = 0; i < leases.Count; i++)
        {
            activities[i] = StartDelivery(leases[i], mode, leases.Count);
            Activity.Current = caller;
        }

        return activities;
    }

    /// <summary>Ends the activities of <see cref="StartDeliveries"/>, each failed one (<paramref name="errorOf"/> gives its error type) marked as an error.</summary>
    private static void EndDeliveries(Activity?[]? activities, Func<int, string?> errorOf)
    {
        if (activities is null)
        {
            return;
        }

        for (var i = activities.Length - 1; i >= 0; i--)
        {
            if (activities[i] is { } activity)
            {
                if (errorOf(i) is { } error)
                {
                    activity.SetStatus(ActivityStatusCode.Error, error);
                }

                activity.Dispose();
            }
        }
    }

    /// <summary>The activity of one delivery attempt (push, or receive by a pull), linked to the send that stored the message.</summary>
    private Activity? StartDelivery(Lease lease, string mode, int batchSize)
    {
        var activity = StartActivity("deliver", lease.Message.Id, lease.Message.TraceParent);
        if (activity is not null)
        {
            activity.SetTag("delivery.count", lease.DeliveryCount);
            activity.SetTag("delivery.mode", mode);
            if (batchSize > 1)
            {
                activity.SetTag("batch.size", batchSize);
            }
        }

        return activity;
    }

    /// <summary>
    /// The <c>traceparent</c> that the messages of a send store: the current activity's, which is the enqueue
    /// activity when it is traced, else the caller's (when Orleans carries the client's activity into the call), else
    /// none. Only W3C ids, the form links parse.
    /// </summary>
    private static string? CurrentTraceParent() =>
        Activity.Current is { IdFormat: ActivityIdFormat.W3C, Id: { Length: SegmentSizing.TraceParentLength } id } ? id : null;
}
