using System.Reflection;
using Orleans.Runtime;

namespace OrleansQueue.Tests.Unit;

/// <summary>Disposing a subscription unsubscribes, retrying while the outcome is unknown (the call is idempotent).</summary>
public sealed class SubscriptionDisposeTests
{
    [Fact]
    public async Task Dispose_RetriesAnUnsubscribeWhoseOutcomeIsUnknown()
    {
        var grain = FakeUnsubscribe.Create(out var fake, new QueueException(QueueErrorCode.StorageFailed, "conflict"));
        var released = false;
        await new QueueSubscription(grain, GrainId.Create("test", "consumer"), null, () => released = true).DisposeAsync();
        Assert.Equal(2, fake.Calls);
        Assert.True(released);
    }

    [Fact]
    public async Task Dispose_DoesNotRetryAnErrorThatWillNotPass_AndStillReleases()
    {
        var grain = FakeUnsubscribe.Create(out var fake, new QueueException(QueueErrorCode.InvalidArgument, "bad"));
        var released = false;
        var subscription = new QueueSubscription(grain, GrainId.Create("test", "consumer"), null, () => released = true);
        Assert.Equal(QueueErrorCode.InvalidArgument, (await Assert.ThrowsAsync<QueueException>(() => subscription.DisposeAsync().AsTask())).Code);
        Assert.Equal(1, fake.Calls);
        Assert.True(released);
    }

    public class FakeUnsubscribe : DispatchProxy
    {
        private Exception? _firstFailure;

        public int Calls { get; private set; }

        public static IQueueGrain Create(out FakeUnsubscribe fake, Exception firstFailure)
        {
            var proxy = Create<IQueueGrain, FakeUnsubscribe>();
            fake = (FakeUnsubscribe)(object)proxy;
            fake._firstFailure = firstFailure;
            return proxy;
        }

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
        {
            if (targetMethod?.Name != nameof(IQueueGrain.Unsubscribe))
            {
                throw new NotSupportedException(targetMethod?.Name);
            }

            Calls++;
            var failure = _firstFailure;
            _firstFailure = null;
            return failure is null ? Task.CompletedTask : Task.FromException(failure);
        }
    }
}
