using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using OrleansQueue.Appending;
using OrleansQueue.DeadLetters;
using OrleansQueue.Delivery;
using OrleansQueue.Diagnostics;
using OrleansQueue.Internal;
using OrleansQueue.Retention;
using OrleansQueue.Storage;

namespace OrleansQueue.Queues;

/// <summary>The long poll (a receive that waits for messages) and releasing what a cancelled receive locked.</summary>
internal sealed partial class QueueGrain
{
    public async Task<ReceivedMessage[]> ReceiveWait(int maxMessages, TimeSpan? lockDuration, TimeSpan maxWait, Guid receiveId, CancellationToken cancellationToken)
    {
        if (maxWait < TimeSpan.Zero || maxWait > QueueLimits.MaxReceiveWait)
        {
            throw new QueueException(QueueErrorCode.InvalidArgument, $"The wait {maxWait} is outside 0 to {QueueLimits.MaxReceiveWait}.");
        }

        var deadline = _time.GetUtcNow() + maxWait;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var received = await Receive(maxMessages, lockDuration);
            if (received.Length > 0)
            {
                if (cancellationToken.IsCancellationRequested || !_recentReceives.Remember(receiveId, received, _time.GetUtcNow()))
                {
                    // The caller is gone (its cancellation or its release came first): what this call locked goes
                    // back at once, as if never delivered.
                    await ReleaseLocksAsync(received.Select(r => r.LockToken));
                    throw new OperationCanceledException("The receive was cancelled by its caller; what it locked was released.", cancellationToken);
                }

                return received;
            }

            var left = deadline - _time.GetUtcNow();
            if (left <= TimeSpan.Zero)
            {
                return received;
            }

            var waiter = new TaskCompletionSource();
            _waiters.Add(waiter);
            try
            {
                await Task.WhenAny(waiter.Task, Task.Delay(left, _time, cancellationToken));
            }
            finally
            {
                _waiters.Remove(waiter);
            }
        }
    }

    public async Task ReleaseReceive(Guid receiveId)
    {
        if (_recentReceives.Take(receiveId, _time.GetUtcNow()) is { } tokens)
        {
            await ReleaseLocksAsync(tokens);
        }
    }

    /// <summary>Undoes the deliveries of the messages still locked by these tokens: ready at once, counts as before.</summary>
    private async Task ReleaseLocksAsync(IEnumerable<Guid> tokens)
    {
        var core = await GetCoreAsync();
        var released = 0;
        foreach (var token in tokens)
        {
            released += core.Unlock(token, _time.GetUtcNow()) ? 1 : 0;
        }

        if (released > 0)
        {
            LogReceiveReleased(QueueName, released);
            await _metaPump!.CommitAsync();
            AfterRelease();
        }
    }
}
