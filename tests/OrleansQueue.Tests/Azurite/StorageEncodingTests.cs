using OrleansQueue.Options;
using OrleansQueue.Tests.Infrastructure;

namespace OrleansQueue.Tests.Azurite;

/// <summary>
/// Records written with one encoding and read with the other (a silo registered with another
/// <see cref="QueueStorageEncoding"/> on the same storage) fail with <see cref="QueueErrorCode.StorageEncodingMismatch"/> and a
/// message that names the provider and the setting to fix, not with the serializer's own error (which, for the JSON
/// reader's, does not even reach the caller: Orleans has no codec for it).
/// </summary>
public sealed class StorageEncodingTests : AzuriteTest
{
    private const string ServiceId = "oq-encoding";

    public static TheoryData<StorageKind, QueueStorageEncoding, QueueStorageEncoding> Mismatches => new()
    {
        { StorageKind.AzureTable, QueueStorageEncoding.Json, QueueStorageEncoding.Binary },
        { StorageKind.AzureTable, QueueStorageEncoding.Binary, QueueStorageEncoding.Json },
        { StorageKind.AzureBlob, QueueStorageEncoding.Json, QueueStorageEncoding.Binary },
        { StorageKind.AzureBlob, QueueStorageEncoding.Binary, QueueStorageEncoding.Json },
    };

    [Theory]
    [MemberData(nameof(Mismatches))]
    public async Task DeadLetterRecords_WrittenInOneEncoding_ReadInTheOther_FailWithAnErrorNamingTheSetting(
        StorageKind kind, QueueStorageEncoding written, QueueStorageEncoding read)
    {
        var storage = new StorageSetup(kind, Azurite.ConnectionString) { Encoding = written };
        await using (var writer = await QueueTestCluster.StartAsync(storage, serviceId: ServiceId))
        {
            var queue = writer.Queue("work");
            await queue.SendAsync("poison", "job-7");
            var delivery = Assert.Single(await queue.ReceiveAsync(1));
            await queue.DeadLetterAsync(delivery, "AlwaysFails", "always fails");
            await Wait.UntilAsync(() => writer.Client.GetDeadLetters().GetStatsAsync(), s => s.Count == 1, "the dead-letter grain stored the entry");
        }

        await using (var reader = await QueueTestCluster.StartAsync(storage with { Encoding = read }, serviceId: ServiceId))
        {
            AssertNamesTheSetting(await Assert.ThrowsAsync<QueueException>(() => reader.Client.GetDeadLetters().GetStatsAsync()), storage.Name);
        }

        // Back on the encoding the records were written in, they read as before.
        await using var again = await QueueTestCluster.StartAsync(storage, serviceId: ServiceId);
        var entry = Assert.Single(await again.Client.GetDeadLetters().BrowseAllAsync().ToListAsync());
        Assert.Equal(("job-7", "AlwaysFails", "always fails"), (entry.Message.MessageId, entry.ConsumerReason, entry.Description));
    }

    [Theory]
    [MemberData(nameof(Mismatches))]
    public async Task QueueRecords_WrittenInOneEncoding_ReadInTheOther_FailWithAnErrorNamingTheSetting(
        StorageKind kind, QueueStorageEncoding written, QueueStorageEncoding read)
    {
        var storage = new StorageSetup(kind, Azurite.ConnectionString) { Encoding = written };
        await using (var writer = await QueueTestCluster.StartAsync(storage, serviceId: ServiceId))
        {
            await writer.Queue("work").SendAsync("job 1", "job-1");
        }

        await using var reader = await QueueTestCluster.StartAsync(storage with { Encoding = read }, serviceId: ServiceId);
        AssertNamesTheSetting(await Assert.ThrowsAsync<QueueException>(() => reader.Queue("work").GetStatsAsync()), storage.Name);
        AssertNamesTheSetting(await Assert.ThrowsAsync<QueueException>(() => reader.Queue("work").PeekAsync()), storage.Name);
    }

    private static void AssertNamesTheSetting(QueueException error, string storageName)
    {
        Assert.Equal(QueueErrorCode.StorageEncodingMismatch, error.Code);
        Assert.False(error.IsTransient);
        Assert.Contains($"storage provider '{storageName}' were written with another encoding", error.Message, StringComparison.Ordinal);
        Assert.Contains("Storage:Serializer", error.Message, StringComparison.Ordinal);
        Assert.Contains(nameof(QueueStorageEncoding), error.Message, StringComparison.Ordinal);
    }
}
