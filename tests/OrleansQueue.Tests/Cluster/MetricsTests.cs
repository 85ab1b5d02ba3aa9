using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using OrleansQueue.Diagnostics;
using OrleansQueue.Tests.Infrastructure;

namespace OrleansQueue.Tests.Cluster;

/// <summary>The product's own metrics and traces, observed with a MeterListener and an ActivityListener.</summary>
public sealed class MetricsTests(MemoryClusterFixture fixture) : IClassFixture<MemoryClusterFixture>
{
    [Fact]
    public async Task Counters_Histograms_AndActivities_FollowTheMessages()
    {
        var queue = fixture.Cluster.Queue("metrics-" + Guid.NewGuid().ToString("N")[..8]);
        var totals = new ConcurrentDictionary<string, double>();
        using var meters = new MeterListener();
        meters.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == QueueInstruments.Name)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            if (MeterTags.Get(tags, "queue") == queue.Name)
            {
                var name = MeterTags.Get(tags, "record") is { } record ? $"{instrument.Name}[{record}]" : instrument.Name;
                totals.AddOrUpdate(name, value, (_, v) => v + value);
                totals.AddOrUpdate(name + "#", 1, (_, v) => v + 1);
            }
        }

        meters.SetMeasurementEventCallback<long>((i, v, t, _) => Record(i, v, t));
        meters.SetMeasurementEventCallback<int>((i, v, t, _) => Record(i, v, t));
        meters.SetMeasurementEventCallback<double>((i, v, t, _) => Record(i, v, t));
        meters.Start();
        var activities = new ConcurrentQueue<Activity>();
        using var tracing = ListenToActivities(activities);

        await queue.SendBatchAsync([OutgoingMessage.FromText("a"), OutgoingMessage.FromText("b"), OutgoingMessage.FromText("c")]);
        var leased = await queue.ReceiveAsync(3);
        await queue.AbandonAsync(leased[2]);
        var again = await queue.ReceiveAsync(1);
        await queue.CompleteAsync([leased[0].LockToken, leased[1].LockToken, again[0].LockToken]);

        Assert.Equal(3, totals["orleansqueue.messages.enqueued"]);
        Assert.Equal(4, totals["orleansqueue.messages.delivered"]);
        Assert.Equal(1, totals["orleansqueue.messages.redelivered"]);
        Assert.Equal(1, totals["orleansqueue.messages.abandoned"]);
        Assert.Equal(3, totals["orleansqueue.messages.completed"]);
        Assert.Equal(3, totals["orleansqueue.message.enqueue_to_complete#"]);
        Assert.Equal(4, totals["orleansqueue.message.delivery_count"]); // 1 + 1 + 2
        Assert.Contains(activities, a => a.OperationName == "enqueue" && (string?)a.GetTagItem("queue") == queue.Name);

        // The batch is one send call and one group commit: one wait, one segment write of three messages.
        Assert.Equal(1, totals["orleansqueue.send.commit_wait#"]);
        Assert.Equal(1, totals["orleansqueue.send.commit_size#"]);
        Assert.Equal(3, totals["orleansqueue.send.commit_size"]);
        Assert.Equal(1, totals["orleansqueue.storage.write.duration[segment]#"]);
        // The two receives lease, the abandon and the completion settle: each waits on a cursor write (some may share one).
        Assert.InRange(totals["orleansqueue.storage.write.duration[cursor]#"], 1, 4);
        Assert.False(totals.ContainsKey("orleansqueue.storage.write.duration#"), "every storage write is tagged with its record");
        // The write counter counts the same writes, one each.
        Assert.Equal(1, totals["orleansqueue.storage.writes[segment]"]);
        Assert.Equal(totals["orleansqueue.storage.write.duration[cursor]#"], totals["orleansqueue.storage.writes[cursor]"]);
    }

    [Fact]
    public async Task CommitMetrics_CountEverySendCall_AndEveryMessage_WhenSendsShareWrites()
    {
        var queue = fixture.Cluster.Queue("commits-" + Guid.NewGuid().ToString("N")[..8]);
        var waits = 0;
        long sizes = 0;
        using var meters = new MeterListener();
        meters.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == QueueInstruments.Name && instrument.Name.StartsWith("orleansqueue.send.", StringComparison.Ordinal))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        bool Ours(ReadOnlySpan<KeyValuePair<string, object?>> tags) => MeterTags.Get(tags, "queue") == queue.Name;

        meters.SetMeasurementEventCallback<double>((_, _, tags, _) =>
        {
            if (Ours(tags))
            {
                Interlocked.Increment(ref waits);
            }
        });
        meters.SetMeasurementEventCallback<int>((_, v, tags, _) =>
        {
            if (Ours(tags))
            {
                Interlocked.Add(ref sizes, v);
            }
        });
        meters.Start();

        // 40 concurrent single-message sends (the coalescer may batch some) plus 5 batches of 20: 140 new messages.
        // The first id is sent once more afterwards: the duplicate is answered from the index and stores nothing.
        var ids = Enumerable.Range(0, 40).Select(i => $"m{i}").ToArray();
        var singles = ids.Select(id => (Task)queue.SendAsync(new OutgoingMessage([1]) { MessageId = id }));
        var batches = Enumerable.Range(0, 5).Select(b => (Task)queue.SendBatchAsync(
            Enumerable.Range(0, 20).Select(i => new OutgoingMessage([2]) { MessageId = $"b{b}-{i}" }).ToArray()));
        await Task.WhenAll(singles.Concat(batches));
        await queue.SendAsync(new OutgoingMessage([1]) { MessageId = ids[0] });

        Assert.Equal(140, Interlocked.Read(ref sizes));
        Assert.InRange(waits, 6, 45); // one per Enqueue call that stored something: at least the 5 batches and 1 coalesced call
    }

    [Fact]
    public async Task Activities_LinkEachDeliveryAndTheDeadLettering_ToTheSendThatStoredTheMessage()
    {
        var queue = fixture.Cluster.Queue("links-" + Guid.NewGuid().ToString("N")[..8]);
        var activities = new ConcurrentQueue<Activity>();
        using var tracing = ListenToActivities(activities);
        List<Activity> Of(string name, string? messageId = null) => activities
            .Where(a => a.OperationName == name && (string?)a.GetTagItem("queue") == queue.Name
                && (messageId is null || (string?)a.GetTagItem("message.id") == messageId))
            .ToList();
        void LinkedTo(Activity send, Activity activity)
        {
            var link = Assert.Single(activity.Links);
            Assert.Equal((send.TraceId, send.SpanId), (link.Context.TraceId, link.Context.SpanId));
        }

        await queue.SendBatchAsync([OutgoingMessage.FromText("a", "la"), OutgoingMessage.FromText("b", "lb")]);
        var batch = Assert.Single(Of("enqueue"));
        Assert.Equal(2, batch.GetTagItem("batch.size"));
        var leased = await queue.ReceiveAsync(2);
        await queue.AbandonAsync(leased.Single(m => m.Message.MessageId == "la"));
        // From here on the queue knows the send's trace only from what it stored with the message.
        await fixture.Cluster.Cluster.DeactivateAsync(fixture.Cluster.Grain(queue.Name));
        var again = Assert.Single(await queue.ReceiveAsync(2));
        await queue.DeadLetterAsync(again, description: "link test");
        var deadLettered = await Wait.UntilAsync(() => Task.FromResult(Of("dead-letter", "la")), l => l.Count == 1, "the dead-letter activity");

        var deliveries = Of("deliver", "la").OrderBy(a => (int)a.GetTagItem("delivery.count")!).ToList();
        Assert.Equal([1, 2], deliveries.Select(a => (int)a.GetTagItem("delivery.count")!));
        Assert.All(deliveries, d => Assert.Equal("receive", d.GetTagItem("delivery.mode")));
        Assert.All(deliveries, d => LinkedTo(batch, d));
        // Deliveries handed out together are siblings, not each other's children.
        Assert.DoesNotContain(Of("deliver"), d => activities.Any(p => p.OperationName == "deliver" && p.SpanId == d.ParentSpanId));
        LinkedTo(batch, Assert.Single(Of("deliver", "lb")));
        LinkedTo(batch, deadLettered[0]);

        // A pushed delivery links to its send just the same; a single send carries its message id.
        await queue.SendAsync(OutgoingMessage.FromText("c", "lc"));
        var single = Assert.Single(Of("enqueue", "lc"));
        var consumer = "links-consumer-" + Guid.NewGuid().ToString("N")[..8];
        await using var subscription = await queue.SubscribeAsync(fixture.Cluster.Client.GetGrain<ITestConsumerGrain>(consumer));
        var pushed = await Wait.UntilAsync(() => Task.FromResult(Of("deliver", "lc")), l => l.Count == 1, "the pushed delivery's activity");
        Assert.Equal("push", pushed[0].GetTagItem("delivery.mode"));
        LinkedTo(single, pushed[0]);
    }

    [Fact]
    public async Task Sends_StoreNoTraceContext_WhenNothingIsTraced()
    {
        var queue = fixture.Cluster.Queue("untraced-" + Guid.NewGuid().ToString("N")[..8]);
        Assert.Null(Activity.Current);
        await queue.SendAsync("plain");
        await fixture.Cluster.Cluster.DeactivateAsync(fixture.Cluster.Grain(queue.Name));

        var activities = new ConcurrentQueue<Activity>();
        using var tracing = ListenToActivities(activities);
        Assert.Single(await queue.ReceiveAsync(1));
        var delivery = Assert.Single(activities, a => a.OperationName == "deliver" && (string?)a.GetTagItem("queue") == queue.Name);
        Assert.Empty(delivery.Links);
    }

    [Fact]
    public async Task DepthGauges_ReportReady_Leased_AndDeadLettered_PerQueue()
    {
        var queue = fixture.Cluster.Queue("gauges-" + Guid.NewGuid().ToString("N")[..8]);
        await queue.SendBatchAsync(Enumerable.Range(0, 5).Select(i => OutgoingMessage.FromText($"m{i}")).ToArray());
        var leased = await queue.ReceiveAsync(2);
        Assert.Equal((3L, 2L), (Gauge("orleansqueue.queue.ready", queue.Name), Gauge("orleansqueue.queue.locked", queue.Name)));

        await queue.CompleteAsync([leased[0].LockToken]);
        await queue.DeadLetterAsync(leased[1], description: "gauge test");
        // The queue and the dead-letter grain publish separately: wait until both show the move.
        var depths = await Wait.UntilAsync(
            () => Task.FromResult((DeadLettered: Gauge("orleansqueue.deadletter.depth", queue.Name), Leased: Gauge("orleansqueue.queue.locked", queue.Name))),
            d => d.DeadLettered == 1 && d.Leased == 0, "the dead-letter depth gauge to show the entry and the lease to be gone");
        Assert.Equal((1L, 0L), depths);
        Assert.Equal(3L, Gauge("orleansqueue.queue.ready", queue.Name));
    }

    /// <summary>Records every stopped activity of the product's source, fully sampled, until disposed.</summary>
    private static ActivityListener ListenToActivities(ConcurrentQueue<Activity> into)
    {
        var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == QueueInstruments.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            ActivityStopped = into.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        return listener;
    }

    /// <summary>The current value of an observable gauge for one queue (0 when the gauge reports nothing for it).</summary>
    private static long Gauge(string name, string queueName)
    {
        long value = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == QueueInstruments.Name && instrument.Name == name)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, v, tags, _) =>
        {
            if (MeterTags.Get(tags, "queue") == queueName)
            {
                value += v;
            }
        });
        listener.Start();
        listener.RecordObservableInstruments();
        return value;
    }
}
