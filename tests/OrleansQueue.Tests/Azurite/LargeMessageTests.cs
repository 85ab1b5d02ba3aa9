using OrleansQueue.Tests.Infrastructure;

namespace OrleansQueue.Tests.Azurite;

/// <summary>Messages at the body limit, many to a write, on real storage with the provider's default serializer.</summary>
public sealed class LargeMessageTests : AzuriteTest
{
    [Theory]
    [InlineData(StorageKind.AzureTable)]
    [InlineData(StorageKind.AzureBlob)]
    public async Task BatchesOfLargestMessages_AreStored_AndReadBackAfterAReload(StorageKind kind)
    {
        var storage = new StorageSetup(kind, Azurite.ConnectionString);
        await using var cluster = await QueueTestCluster.StartAsync(storage, _ => { }, "oq-large-" + kind);
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
