using Orleans.Runtime;
using Orleans.Runtime.Messaging;

namespace OrleansQueue;

/// <summary>Classifies the errors a queue call can end with.</summary>
public static class QueueErrors
{
    /// <summary>
    /// Whether the call may succeed if made again later: a transient <see cref="QueueException"/> (storage failed or
    /// busy), a timed-out call, an unavailable silo, a rejected message or a failed connection. The outcome of such a
    /// call is unknown: sends are safe to repeat (their message ids deduplicate them); a settlement repeated after it
    /// landed gets <see cref="QueueErrorCode.MessageLockLost"/>.
    /// </summary>
    public static bool IsTransient(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        return exception switch
        {
            QueueException queue => queue.IsTransient,
            TimeoutException or SiloUnavailableException or OrleansMessageRejectionException or ConnectionFailedException => true,
            AggregateException { InnerExceptions.Count: 1 } single => IsTransient(single.InnerExceptions[0]),
            _ => false,
        };
    }
}
