using System.Runtime.CompilerServices;
using Orleans.Runtime;
using OrleansQueue.Tests.Infrastructure;

namespace OrleansQueue.Tests.Unit;

/// <summary>Disposing a subscription unsubscribes, retrying while the outcome is unknown (the call is idempotent).</summary>
public sealed class SubscriptionDisposeTests
{
    [Fact]
    public async Task Dispose_RetriesAnUnsubscribeWhoseOutcomeIsUnknown()
    {
        var grain = FailFirstUnsubscribe(new QueueException(QueueErrorCode.StorageFailed, "conflict"), out var calls);
        var released = false;
        await new QueueSubscription(grain, GrainId.Create("test", "consumer"), null, () => released = true).DisposeAsync();
        Assert.Equal(2, calls.Value);
        Assert.True(released);
    }

    [Fact]
    public async Task Dispose_DoesNotRetryAnErrorThatWillNotPass_AndStillReleases()
    {
        var grain = FailFirstUnsubscribe(new QueueException(QueueErrorCode.InvalidArgument, "bad"), out var calls);
        var released = false;
        var subscription = new QueueSubscription(grain, GrainId.Create("test", "consumer"), null, () => released = true);
        Assert.Equal(QueueErrorCode.InvalidArgument, (await Assert.ThrowsAsync<QueueException>(() => subscription.DisposeAsync().AsTask())).Code);
        Assert.Equal(1, calls.Value);
        Assert.True(released);
    }

    /// <summary>A queue grain whose first Unsubscribe fails with <paramref name="firstFailure"/> and later ones succeed; <paramref name="calls"/> counts them.</summary>
    private static IQueueGrain FailFirstUnsubscribe(Exception firstFailure, out StrongBox<int> calls)
    {
        var made = calls = new StrongBox<int>();
        return OneMethodFake<IQueueGrain>.Create(nameof(IQueueGrain.Unsubscribe), _ =>
            ++made.Value == 1 ? Task.FromException(firstFailure) : Task.CompletedTask);
    }
}
