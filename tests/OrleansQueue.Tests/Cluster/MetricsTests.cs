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
            foreach (var tag in tags)
            {
                if (tag.Key == "queue" && (string?)tag.Value == queue.Name)
                {
                    totals.AddOrUpdate(instrument.Name, value, (_, v) => v + value);
                    totals.AddOrUpdate(instrument.Name + "#", 1, (_, v) => v + 1);
                }
            }
        }

        meters.SetMeasurementEventCallback<long>((i, v, t, _) => Record(i, v, t));
        meters.SetMeasurementEventCallback<int>((i, v, t, _) => Record(i, v, t));
        meters.SetMeasurementEventCallback<double>((i, v, t, _) => Record(i, v, t));
        meters.Start();
        var activities = new ConcurrentQueue<Activity>();
        using var tracing = new ActivityListener
        {
            ShouldListenTo = source => source.Name == QueueInstruments.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            ActivityStopped = activities.Enqueue,
        };
        ActivitySource.AddActivityListener(tracing);

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
    }

    [Fact]
    public async Task DepthGauges_ReportReady_Leased_AndDeadLettered_PerQueue()
    {
        var queue = fixture.Cluster.Queue("gauges-" + Guid.NewGuid().ToString("N")[..8]);
        await queue.SendBatchAsync(Enumerable.Range(0, 5).Select(i => OutgoingMessage.FromText($"m{i}")).ToArray());
        var leased = await queue.ReceiveAsync(2);
        Assert.Equal((3L, 2L), (Gauge("orleansqueue.queue.ready", queue.Name), Gauge("orleansqueue.queue.leased", queue.Name)));

        await queue.CompleteAsync([leased[0].LockToken]);
        await queue.DeadLetterAsync(leased[1], "gauge test");
        // The queue and the dead-letter grain publish separately: wait until both show the move.
        var depths = await Wait.UntilAsync(
            () => Task.FromResult((DeadLettered: Gauge("orleansqueue.deadletter.depth", queue.Name), Leased: Gauge("orleansqueue.queue.leased", queue.Name))),
            d => d.DeadLettered == 1 && d.Leased == 0, "the dead-letter depth gauge to show the entry and the lease to be gone");
        Assert.Equal((1L, 0L), depths);
        Assert.Equal(3L, Gauge("orleansqueue.queue.ready", queue.Name));
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
            foreach (var tag in tags)
            {
                if (tag.Key == "queue" && (string?)tag.Value == queueName)
                {
                    value += v;
                }
            }
        });
        listener.Start();
        listener.RecordObservableInstruments();
        return value;
    }
}
