using Orleans.Runtime;
using Orleans.Runtime.Messaging;

namespace OrleansQueue;

/// <summary>A consumer's subscription to a queue; dispose it to unsubscribe.</summary>
public sealed class QueueSubscription : IAsyncDisposable
{
    /// <summary>How often a client object's subscription is renewed (it lapses after 2 minutes).</summary>
    public static readonly TimeSpan RenewalPeriod = TimeSpan.FromSeconds(30);

    private readonly IQueueGrain _queue;
    private readonly GrainId _consumer;
    private readonly Action? _release;
    private readonly object? _keepAlive;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _renewals;

    internal QueueSubscription(IQueueGrain queue, GrainId consumer, ConsumerOptions? renewOptions, Action? release, object? keepAlive = null)
    {
        _keepAlive = keepAlive;
        _queue = queue;
        _consumer = consumer;
        _release = release;
        _renewals = renewOptions is null ? Task.CompletedTask : RenewAsync(renewOptions, _stop.Token);
    }

    /// <summary>
    /// Renewals that failed so far (the queue's silo was down, say). A failed renewal is tried again after 1, 2, 4 ...
    /// seconds, well before the subscription would lapse (2 minutes).
    /// </summary>
    public int FailedRenewals { get; private set; }

    /// <summary>The last renewal failure, or null once a renewal succeeds again.</summary>
    public Exception? LastRenewalError { get; private set; }

    private async Task RenewAsync(ConsumerOptions options, CancellationToken stop)
    {
        using var timer = new PeriodicTimer(RenewalPeriod);
        try
        {
            while (await timer.WaitForNextTickAsync(stop).ConfigureAwait(false))
            {
                for (var retry = TimeSpan.FromSeconds(1); ; retry = TimeSpan.FromTicks(Math.Min(retry.Ticks * 2, RenewalPeriod.Ticks)))
                {
                    try
                    {
                        await _queue.Subscribe(_consumer, options).WaitAsync(stop).ConfigureAwait(false);
                        LastRenewalError = null;
                        break;
                    }
                    catch (Exception e) when (!stop.IsCancellationRequested)
                    {
                        FailedRenewals++;
                        LastRenewalError = e;
                    }

                    await Task.Delay(retry, stop).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Attempts of the unsubscribe call while its outcome is unknown (it is idempotent, so safe to repeat).</summary>
    private const int UnsubscribeAttempts = 3;

    /// <summary>Stops renewing and unsubscribes, retrying while the outcome is unknown (a conflict, a lost silo).</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _renewals.ConfigureAwait(false);
        try
        {
            await QueueClient.RetryWhileUnknownAsync(async () =>
            {
                await _queue.Unsubscribe(_consumer).ConfigureAwait(false);
                return true;
            }, UnsubscribeAttempts, TimeSpan.FromMilliseconds(200), CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            _release?.Invoke();
            _stop.Dispose();
            GC.KeepAlive(_keepAlive);
        }
    }
}
