using OrleansQueue.Tests.Infrastructure;

namespace OrleansQueue.Tests.Azurite;

/// <summary>Messages at the body limit, many to a write, on real storage with the provider's default serializer.</summary>
public sealed class LargeMessageTests : AzuriteTest
{
    [Theory]
    [InlineData(StorageKind.AzureTable)]
    [InlineData(StorageKind.AzureBlob)]
    public Task BatchesOfLargestMessages_AreStored_AndReadBackAfterAReload(StorageKind kind) =>
        LargeMessages.RunAsync(new StorageSetup(kind, Azurite.ConnectionString));
}
