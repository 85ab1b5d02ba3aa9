using OrleansQueue.Options;

namespace OrleansQueue.Tests.Infrastructure;

/// <summary>
/// The recovery scenario every durable storage must pass: 500 confirmed sends, 100 completed and 50 locked, the silo
/// crashed or stopped, the storage restarted (however that storage restarts), and a new cluster finds every confirmed,
/// uncompleted message in order, the open locks redelivered, and duplicate detection intact.
/// </summary>
public static class Recovery
{
    public static async Task RunAsync(StorageSetup storage, bool crash, Func<Task> restartStorage)
    {
        const string serviceId = "oq-recovery";
        void Small(OrleansQueueOptions o) => (o.SegmentMaxMessages, o.SegmentChunkMessages) = (16, 4);
        var confirmed = new Dictionary<long, string>();
        var completed = new HashSet<long>();
        var leased = new HashSet<long>();

        await using (var before = await QueueTestCluster.StartAsync(storage, Small, serviceId))
        {
            var queue = before.Queue("orders");
            var sends = Enumerable.Range(0, 500).Select(async i => (Seq: await queue.SendAsync($"order {i}", $"order-{i}"), Body: $"order {i}"));
            foreach (var (seq, body) in await Task.WhenAll(sends))
            {
                confirmed.Add(seq, body);
            }

            var received = await queue.ReceiveAsync(150, TimeSpan.FromMinutes(1));
            await queue.CompleteAsync(received.Take(100).Select(r => r.LockToken));
            completed.UnionWith(received.Take(100).Select(r => r.Message.SequenceNumber));
            leased.UnionWith(received.Skip(100).Select(r => r.Message.SequenceNumber));

            if (crash)
            {
                await before.Cluster.KillSiloAsync(before.Cluster.Silos[0]);
            }
        }

        await restartStorage();

        await using var after = await QueueTestCluster.StartAsync(storage, Small, serviceId);
        var again = after.Queue("orders");
        var stats = await again.GetStatsAsync();
        Assert.Equal((500L, 400L, 50L, 100L), (stats.TotalEnqueued, stats.ActiveCount, stats.LockedCount, stats.TotalCompleted));

        after.Time.Advance(TimeSpan.FromMinutes(2)); // the open leases end
        var delivered = new List<QueueMessage>();
        while ((await again.ReceiveAsync(100)) is { Count: > 0 } batch)
        {
            delivered.AddRange(batch.Select(b => b.Message));
            await again.CompleteAsync(batch.Select(b => b.LockToken));
        }

        var expected = confirmed.Keys.Where(s => !completed.Contains(s)).Order().ToList();
        Assert.Equal(expected, delivered.Select(m => m.SequenceNumber)); // 0 lost, 0 duplicated, in order
        Assert.All(delivered, m => Assert.Equal(confirmed[m.SequenceNumber], m.BodyAsString()));
        Assert.All(delivered, m => Assert.Equal(leased.Contains(m.SequenceNumber) ? 2 : 1, m.DeliveryCount));
        var order3 = confirmed.Single(c => c.Value == "order 3").Key;
        Assert.Equal(order3, await again.SendAsync("order 3", "order-3")); // duplicate detection survived the restart
        }
}
