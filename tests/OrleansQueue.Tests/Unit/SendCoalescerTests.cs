using System.Collections.Concurrent;
using System.Reflection;
using OrleansQueue.Tests.Infrastructure;

namespace OrleansQueue.Tests.Unit;

/// <summary>Client-side coalescing of concurrent sends into batch calls, against a fake queue grain.</summary>
public sealed class SendCoalescerTests
{
    [Fact]
    public async Task ConcurrentSends_ShareFewCalls_AtMostFourAtOnce_AndEachGetsItsOwnSequenceNumber()
    {
        var fake = FakeQueue.Create(out var queue);
        var coalescer = new SendCoalescer(fake, new QueueClientOptions { MaxBatchCount = 100 });

        var sends = Enumerable.Range(0, 1000).Select(i => coalescer.SendAsync(new OutgoingMessage([1]) { MessageId = $"m{i}" })).ToArray();
        var sequences = await Task.WhenAll(sends);

        Assert.Equal(Enumerable.Range(1, 1000).Select(i => (long)i), sequences.Order());
        Assert.InRange(queue.Calls.Count, 10, 100); // at least 1,000 / 100 calls; far fewer than 1,000
        Assert.All(queue.Calls, size => Assert.InRange(size, 1, 100));
        Assert.InRange(queue.MaxConcurrent, 1, SendCoalescer.MaxCallsInFlight);

        // Each send's sequence number is the one the queue gave its own message.
        for (var i = 0; i < 1000; i++)
        {
            Assert.Equal(queue.SequenceOf[$"m{i}"], sequences[i]);
        }
    }

    [Fact]
    public async Task AFailedCall_FailsEverySendInIt_AndLaterSendsStillGoOut()
    {
        var fake = FakeQueue.Create(out var queue);
        var coalescer = new SendCoalescer(fake, new QueueClientOptions());
        queue.FailNext = new QueueException(QueueErrorCode.StorageFailed, "injected");

        var first = coalescer.SendAsync(new OutgoingMessage([1]) { MessageId = "a" });
        Assert.Equal(QueueErrorCode.StorageFailed, (await Assert.ThrowsAsync<QueueException>(() => first)).Code);
        Assert.Equal(1, await coalescer.SendAsync(new OutgoingMessage([1]) { MessageId = "b" }));
    }

    [Fact]
    public async Task Batches_StayWithinTheBodyLimit()
    {
        var fake = FakeQueue.Create(out var queue);
        var coalescer = new SendCoalescer(fake, new QueueClientOptions { MaxBatchBodyBytes = 1000 });
        await Task.WhenAll(Enumerable.Range(0, 50).Select(i => coalescer.SendAsync(new OutgoingMessage(new byte[300]) { MessageId = $"m{i}" })));
        Assert.All(queue.Calls, size => Assert.InRange(size, 1, 3));
        Assert.Equal(50, queue.Calls.Sum());
    }

    [Fact]
    public async Task AHandleMadeForEachSend_LooksUpTheGrainOnce()
    {
        var fake = FakeQueue.Create(out var queue);
        var getGrainCalls = 0;
        var factory = OneMethodFake<IGrainFactory>.Create(nameof(IGrainFactory.GetGrain), _ =>
        {
            getGrainCalls++;
            return fake;
        });

        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(i + 1, await factory.GetQueue("orders").SendAsync(new OutgoingMessage([1]) { MessageId = $"m{i}" }));
        }

        Assert.Equal(1, getGrainCalls); // the first handle's, kept with the queue's shared coalescer
        Assert.Equal(5, queue.Calls.Sum());
    }

    /// <summary>An IQueueGrain whose Enqueue takes 2 ms and numbers messages; every other member throws.</summary>
    public class FakeQueue : DispatchProxy
    {
        private long _next;
        private int _running;
        private int _failNextTaken;

        public ConcurrentQueue<int> Calls { get; } = new();

        public ConcurrentDictionary<string, long> SequenceOf { get; } = new();

        public int MaxConcurrent { get; private set; }

        public Exception? FailNext { get; set; }

        public static IQueueGrain Create(out FakeQueue queue)
        {
            var proxy = Create<IQueueGrain, FakeQueue>();
            queue = (FakeQueue)(object)proxy;
            return proxy;
        }

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args) =>
            targetMethod?.Name == nameof(IQueueGrain.Enqueue)
                ? EnqueueAsync((OutgoingMessage[])args![0]!)
                : throw new NotSupportedException(targetMethod?.Name);

        private async Task<long[]> EnqueueAsync(OutgoingMessage[] messages)
        {
            var running = Interlocked.Increment(ref _running);
            lock (Calls)
            {
                MaxConcurrent = Math.Max(MaxConcurrent, running);
            }

            try
            {
                await Task.Delay(2);
                if (Interlocked.Exchange(ref _failNextTaken, 1) == 0 && FailNext is { } failure)
                {
                    throw failure;
                }

                Calls.Enqueue(messages.Length);
                return messages.Select(m => SequenceOf[m.MessageId!] = Interlocked.Increment(ref _next)).ToArray();
            }
            finally
            {
                Interlocked.Decrement(ref _running);
            }
        }
    }
}
