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
            string? record = null;
            var ours = false;
            foreach (var tag in tags)
            {
                ours |= tag.Key == "queue" && (string?)tag.Value == queue.Name;
                record = tag.Key == "record" ? (string?)tag.Value : record;
            }

            if (ours)
            {
                var name = record is null ? instrument.Name : $"{instrument.Name}[{record}]";
                totals.AddOrUpdate(name, value, (_, v) => v + value);
                totals.AddOrUpdate(name + "#", 1, (_, v) => v + 1);
                Assert.True(value >= 0, $"{name} recorded {value}");
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

        // The batch is one send call and one group commit: one wait, one segment write of three messages.
        Assert.Equal(1, totals["orleansqueue.send.commit_wait#"]);
        Assert.Equal(1, totals["orleansqueue.send.commit_size#"]);
        Assert.Equal(3, totals["orleansqueue.send.commit_size"]);
        Assert.Equal(1, totals["orleansqueue.storage.write.duration[segment]#"]);
        // The two receives lease, the abandon and the completion settle: each waits on a cursor write (some may share one).
        Assert.InRange(totals["orleansqueue.storage.write.duration[cursor]#"], 1, 4);
        Assert.False(totals.ContainsKey("orleansqueue.storage.write.duration#"), "every storage write is tagged with its record");
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
        bool Ours(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "queue" && (string?)tag.Value == queue.Name)
                {
                    return true;
                }
            }

            return false;
        }

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
        // Each message id is sent twice: the duplicate is answered from the index and stores nothing.
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
