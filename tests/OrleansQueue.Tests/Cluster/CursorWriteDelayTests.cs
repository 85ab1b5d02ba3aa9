using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using OrleansQueue.Diagnostics;
using OrleansQueue.Tests.Infrastructure;

namespace OrleansQueue.Tests.Cluster;

/// <summary><see cref="Options.OrleansQueueOptions.CursorWriteDelay"/>: what nobody waits on is written late, and together.</summary>
public sealed class CursorWriteDelayTests
{
    private static readonly TimeSpan Delay = TimeSpan.FromSeconds(3);

    [Fact]
    public async Task APushedCompletion_AndTheTailHint_ShareOneCursorWrite_MadeTheConfiguredDelayLater()
    {
        await using var cluster = await QueueTestCluster.StartAsync(new StorageSetup(StorageKind.Memory), o => o.CursorWriteDelay = Delay);
        var queue = cluster.Queue($"delay-{Guid.NewGuid():N}"[..24]);
        var consumer = $"delayed-{Guid.NewGuid():N}"[..24];
        var cursorWrites = new ConcurrentQueue<long>(); // the Stopwatch timestamp of each cursor write of this queue
        using var meters = new MeterListener();
        meters.InstrumentPublished = (instrument, listener) =>
        {
            // By name: the instrument may be published while QueueInstruments' static fields are still being set.
            if (instrument.Meter.Name == QueueInstruments.Name && instrument.Name == "orleansqueue.storage.writes")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        meters.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            if (MeterTags.Get(tags, "queue") == queue.Name && MeterTags.Get(tags, "record") == "cursor")
            {
                cursorWrites.Enqueue(Stopwatch.GetTimestamp());
            }
        });
        meters.Start();

        await queue.SubscribeAsync(cluster.Client.GetGrain<ITestConsumerGrain>(consumer)); // stored at once: a caller waits
        var beforeSend = cursorWrites.Count;
        var sent = Stopwatch.GetTimestamp();
        await queue.SendAsync("hello", "m-1"); // a new segment: its tail hint is a cursor write nobody waits on
        await Wait.UntilAsync(() => Task.FromResult(ConsumerScript.For(consumer).Succeeded.Count), n => n == 1, "the push is handled");
        await Wait.UntilAsync(() => queue.GetStatsAsync(), s => s.TotalCompleted == 1, "the pushed message is completed");
        Assert.Equal(beforeSend, cursorWrites.Count); // completed in memory; its cursor write is still waiting

        await Wait.UntilAsync(() => Task.FromResult(cursorWrites.Count), n => n > beforeSend, "the delayed cursor write");
        var written = cursorWrites.ToArray()[beforeSend];
        Assert.True(Stopwatch.GetElapsedTime(sent, written) >= Delay - TimeSpan.FromMilliseconds(100),
            $"the cursor write came {Stopwatch.GetElapsedTime(sent, written).TotalMilliseconds:N0} ms after the send, before the {Delay.TotalMilliseconds:N0} ms delay");
        Assert.Equal(beforeSend + 1, cursorWrites.Count); // the tail hint and the completion: one write
    }
}
