using Orleans.Runtime;

namespace OrleansQueue.Tests.Infrastructure;

/// <summary>A producer and a draining consumer that record a <see cref="History"/> and ride out failures.</summary>
public static class Workload
{
    public static async Task ProduceAsync(QueueClient queue, History history, int count, int inFlight, string prefix, Action<int>? onSent = null)
    {
        using var gate = new SemaphoreSlim(inFlight);
        await Task.WhenAll(Enumerable.Range(0, count).Select(async i =>
        {
            var id = $"{prefix}-{i}";
            await gate.WaitAsync();
            try
            {
                await queue.SendAsync(OutgoingMessage.FromText(id, id));
                history.Sent(id, SendOutcome.Ok);
                onSent?.Invoke(i);
            }
            catch (QueueException e) when (e.Code == QueueErrorCode.StorageFailed)
            {
                history.Sent(id, SendOutcome.Failed); // every attempt failed; the last one may still have landed
            }
            catch (Exception e) when (e is TimeoutException or OrleansException)
            {
                history.Sent(id, SendOutcome.Unknown); // the call's outcome is unknown
            }
            finally
            {
                gate.Release();
            }
        }));
    }

    /// <summary>
    /// One receive (a long poll when <paramref name="maxWait"/> is given), recorded, then its batch completed and
    /// recorded; returns how many messages came. Failures are the caller's to ride out.
    /// </summary>
    public static async Task<int> ReceiveAndCompleteAsync(QueueClient queue, History history, int maxMessages = 100, TimeSpan? lockDuration = null, TimeSpan? maxWait = null)
    {
        var batch = maxWait is { } wait
            ? await queue.WaitAndReceiveAsync(wait, maxMessages, lockDuration)
            : await queue.ReceiveAsync(maxMessages, lockDuration);
        foreach (var delivery in batch)
        {
            history.Delivered(delivery.Message);
        }

        if (batch.Count > 0)
        {
            await queue.CompleteAsync(batch.Select(b => b.LockToken));
            foreach (var delivery in batch)
            {
                history.Completed(delivery.Message.MessageId);
            }
        }

        return batch.Count;
    }

    /// <summary>Receives and completes until the queue is empty, riding out injected failures.</summary>
    public static async Task DrainAsync(QueueTestCluster cluster, QueueClient queue, History history, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromMinutes(2));
        while (DateTime.UtcNow < deadline)
        {
            IReadOnlyList<ReceivedMessage> batch;
            try
            {
                batch = await queue.ReceiveAsync(100);
            }
            catch (Exception e) when (e is QueueException { Code: QueueErrorCode.StorageFailed } or TimeoutException or OrleansException)
            {
                continue;
            }

            if (batch.Count == 0)
            {
                try
                {
                    if ((await queue.GetStatsAsync()).ActiveCount == 0)
                    {
                        return;
                    }
                }
                catch (Exception e) when (e is TimeoutException or OrleansException)
                {
                    continue;
                }

                // Leases whose write landed although the call failed belong to nobody: let them expire.
                cluster.Time.Advance(TimeSpan.FromSeconds(31));
                continue;
            }

            foreach (var delivery in batch)
            {
                history.Delivered(delivery.Message);
            }

            foreach (var delivery in batch)
            {
                for (var attempt = 0; attempt < 3; attempt++)
                {
                    try
                    {
                        await queue.CompleteAsync(delivery);
                        history.Completed(delivery.Message.MessageId);
                        break;
                    }
                    catch (Exception e) when (e is QueueException { Code: QueueErrorCode.StorageFailed } or TimeoutException or OrleansException)
                    {
                        // Unknown outcome: try again (the queue re-read its leases).
                    }
                    catch (QueueException e) when (e.Code == QueueErrorCode.MessageLockLost)
                    {
                        break; // an earlier attempt landed, or the lease is gone and it comes back
                    }
                }
            }
        }

        throw new TimeoutException($"The queue did not drain within {timeout ?? TimeSpan.FromMinutes(2)}.");
    }
}
