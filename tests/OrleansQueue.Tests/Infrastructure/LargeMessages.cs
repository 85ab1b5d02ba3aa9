namespace OrleansQueue.Tests.Infrastructure;

/// <summary>Messages at the body limit, four to a write (each group commit fills segments to their byte limit), read back after a reload.</summary>
public static class LargeMessages
{
    public static async Task RunAsync(StorageSetup storage)
    {
        await using var cluster = await QueueTestCluster.StartAsync(storage, _ => { }, "oq-large-" + storage.Kind);
        var queue = cluster.Queue("large");
        var random = new Random(11);
        var bodies = Enumerable.Range(0, 12).Select(_ =>
        {
            var body = new byte[QueueLimits.DefaultMaxMessageBodyBytes];
            random.NextBytes(body);
            return body;
        }).ToArray();

        // Three batches of four: each group commit fills segments to their byte limit.
        for (var b = 0; b < 3; b++)
        {
            await queue.SendBatchAsync(bodies.Skip(b * 4).Take(4).Select((body, i) => new OutgoingMessage(body) { MessageId = $"m{b * 4 + i}" }).ToArray());
        }

        await cluster.Cluster.DeactivateAsync(cluster.Grain("large"));
        var received = new List<ReceivedMessage>();
        while (received.Count < bodies.Length && (await queue.ReceiveAsync(4)) is { Count: > 0 } batch)
        {
            received.AddRange(batch);
        }

        Assert.Equal(bodies.Length, received.Count);
        for (var i = 0; i < bodies.Length; i++)
        {
            Assert.Equal($"m{i}", received[i].Message.MessageId);
            Assert.Equal(bodies[i], received[i].Message.Body);
        }
        }
}
