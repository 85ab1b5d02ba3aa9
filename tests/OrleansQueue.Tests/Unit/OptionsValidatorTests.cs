using Orleans.Runtime;
using OrleansQueue.Options;
using OrleansQueue.Tests.Infrastructure;

namespace OrleansQueue.Tests.Unit;

public sealed class OptionsValidatorTests
{
    [Fact]
    public void Defaults_AreValid() => OrleansQueueOptionsValidator.Validate(new OrleansQueueOptions());

    public static TheoryData<string, Action<OrleansQueueOptions>> BadOptions => new()
    {
        { nameof(OrleansQueueOptions.StorageName), o => o.StorageName = " " },
        { nameof(OrleansQueueOptions.SegmentMaxMessages), o => o.SegmentMaxMessages = 0 },
        { nameof(OrleansQueueOptions.SegmentMaxMessages), o => (o.ActiveSegments, o.SegmentMaxMessages) = (1, 1025) },
        { nameof(OrleansQueueOptions.SegmentChunkMessages), o => o.SegmentChunkMessages = 0 },
        { nameof(OrleansQueueOptions.SegmentChunkMessages), o => o.SegmentChunkMessages = 10_001 },
        { nameof(OrleansQueueOptions.SegmentMaxBytes), o => o.SegmentMaxBytes = 1024 * 1024 },
        { nameof(OrleansQueueOptions.SegmentMaxBytes), o => o.SegmentMaxBytes = 1000 },
        { nameof(OrleansQueueOptions.ActiveSegments), o => o.ActiveSegments = 0 },
        { nameof(OrleansQueueOptions.DeliveryWindowMaxBytes), o => o.DeliveryWindowMaxBytes = -1 },
        { "ActiveSegments × SegmentMaxMessages", o => (o.ActiveSegments, o.SegmentMaxMessages) = (1024, 1024) },
        { nameof(OrleansQueueOptions.MaxMessagesInFlight), o => o.MaxMessagesInFlight = 0 },
        { nameof(OrleansQueueOptions.MaxStagedBytes), o => o.MaxStagedBytes = 1024 },
        { "Subscriptions[0].MaxConcurrentCalls", o => o.Subscriptions.Add(new ConsumerSubscriptionOptions { Queue = "q", Consumer = "worker/1", MaxConcurrentCalls = 0 }) },
        { "Subscriptions[0].MaxAutoLockRenewalDuration", o => o.Subscriptions.Add(new ConsumerSubscriptionOptions { Queue = "q", Consumer = "worker/1", MaxAutoLockRenewalDuration = TimeSpan.FromHours(13) }) },
        { nameof(OrleansQueueOptions.MaxMessageBodyBytes), o => o.MaxMessageBodyBytes = 257 * 1024 },
        { nameof(OrleansQueueOptions.MaxBatchCount), o => o.MaxBatchCount = 0 },
        { nameof(OrleansQueueOptions.MaxBatchBodyBytes), o => o.MaxBatchBodyBytes = 10 },
        { nameof(OrleansQueueOptions.GroupCommitMaxMessages), o => o.GroupCommitMaxMessages = -1 },
        { nameof(OrleansQueueOptions.CursorWriteDelay), o => o.CursorWriteDelay = TimeSpan.FromMilliseconds(-1) },
        { nameof(OrleansQueueOptions.CursorWriteDelay), o => o.CursorWriteDelay = TimeSpan.FromSeconds(6) },
        { nameof(OrleansQueueOptions.DefaultLockDuration), o => o.DefaultLockDuration = TimeSpan.Zero },
        { nameof(OrleansQueueOptions.DefaultLockDuration), o => o.DefaultLockDuration = TimeSpan.FromSeconds(-5) },
        { nameof(OrleansQueueOptions.MaxLockDuration), o => o.MaxLockDuration = TimeSpan.FromHours(13) },
        { nameof(OrleansQueueOptions.DefaultLockDuration), o => o.MaxLockDuration = TimeSpan.FromSeconds(10) },
        { nameof(OrleansQueueOptions.DuplicateDetectionWindow), o => o.DuplicateDetectionWindow = TimeSpan.FromDays(8) },
        { nameof(OrleansQueueOptions.DuplicateDetectionMaxIds), o => o.DuplicateDetectionMaxIds = 0 },
        { nameof(OrleansQueueOptions.MaxDeliveryCount), o => o.MaxDeliveryCount = 0 },
        { "Subscriptions[0]", o => o.Subscriptions.Add(new ConsumerSubscriptionOptions { Queue = "bad/queue", Consumer = "worker/1" }) },
        { "Subscriptions[0]", o => o.Subscriptions.Add(new ConsumerSubscriptionOptions { Queue = "work", Consumer = "no-key" }) },
        { "Subscriptions[0].Prefetch", o => o.Subscriptions.Add(new ConsumerSubscriptionOptions { Queue = "work", Consumer = "worker/1", Prefetch = 0 }) },
    };

    [Theory]
    [MemberData(nameof(BadOptions))]
    public void BadValues_AreRejected_NamingTheOption(string option, Action<OrleansQueueOptions> spoil)
    {
        var options = new OrleansQueueOptions();
        spoil(options);
        var error = Assert.Throws<OrleansConfigurationException>(() => OrleansQueueOptionsValidator.Validate(options));
        Assert.Contains($"{nameof(OrleansQueueOptions)}.{option}", error.Message);
    }

    [Fact]
    public async Task ASiloWithBadOptions_DoesNotStart()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() =>
            QueueTestCluster.StartAsync(new StorageSetup(StorageKind.Memory), o => o.DefaultLockDuration = TimeSpan.Zero));
        Assert.Contains("OrleansQueueOptions.DefaultLockDuration", error.ToString());
    }

    [Fact]
    public async Task ASiloWithoutTheNamedStorage_DoesNotStart()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() =>
            QueueTestCluster.StartAsync(new StorageSetup(StorageKind.Memory), o => o.StorageName = "missing"));
        Assert.Contains("OrleansQueueOptions.StorageName", error.ToString());
    }
}
