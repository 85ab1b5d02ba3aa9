using Orleans.Runtime;
using Orleans.Runtime.Messaging;

namespace OrleansQueue.Tests.Unit;

/// <summary>Which errors a caller may retry.</summary>
public sealed class QueueErrorsTests
{
    public static TheoryData<Exception, bool> Errors => new()
    {
        { new QueueException(QueueErrorCode.StorageFailed, "storage down"), true },
        { new QueueException(QueueErrorCode.ServerBusy, "busy"), true },
        { new QueueException(QueueErrorCode.MessageLockLost, "lost"), false },
        { new QueueException(QueueErrorCode.InvalidQueueName, "bad name"), false },
        { new QueueException(QueueErrorCode.QueueFull, "full"), false },
        { new TimeoutException("no response"), true },
        { new SiloUnavailableException("gone"), true },
        { new ConnectionFailedException("refused"), true },
        { new AggregateException(new TimeoutException("wrapped")), true },
        { new ArgumentException("bug"), false },
    };

    [Theory]
    [MemberData(nameof(Errors))]
    public void IsTransient_SaysWhetherTheCallMaySucceedLater(Exception error, bool transient)
    {
        Assert.Equal(transient, QueueErrors.IsTransient(error));
        if (error is QueueException queue)
        {
            Assert.Equal(transient, queue.IsTransient);
        }
    }
}
