using Orleans.Runtime;
using Orleans.Runtime.Messaging;

namespace OrleansQueue;

// Calling the queue grain: retries while an outcome is unknown, failover when a gateway connection is lost.
public sealed partial class QueueClient
{
    /// <summary>Runs a send, retrying it (with the same message ids) while its outcome is unknown.</summary>
    private Task<T> WithRetriesAsync<T>(Func<Task<T>> send, CancellationToken cancellationToken) =>
        RetryWhileUnknownAsync(send, _options.SendAttempts, _options.RetryDelay, cancellationToken, _connection);

    /// <summary>How long calls cut off by a lost gateway connection are made again (every <see cref="FailoverDelay"/>).</summary>
    internal static readonly TimeSpan FailoverWindow = TimeSpan.FromSeconds(60);

    internal static readonly TimeSpan FailoverDelay = TimeSpan.FromMilliseconds(250);

    /// <summary>A call that is not retried on an unknown outcome, but fails over when its gateway connection is lost.</summary>
    private Task CallAsync(Func<Task> call, CancellationToken cancellationToken) =>
        CallAsync(async () =>
        {
            await call().ConfigureAwait(false);
            return true;
        }, cancellationToken);

    /// <inheritdoc cref="CallAsync(Func{Task}, CancellationToken)"/>
    private Task<T> CallAsync<T>(Func<Task<T>> call, CancellationToken cancellationToken) =>
        RetryWhileUnknownAsync(call, attempts: 1, TimeSpan.Zero, cancellationToken, _connection);

    /// <summary>Right after a gateway connection recovered, a send not answered in this time is made again (it is idempotent).</summary>
    internal static readonly TimeSpan SendPatience = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Runs an idempotent call up to <paramref name="attempts"/> times while its outcome is unknown, waiting
    /// <paramref name="delay"/> before the first retry and twice as long before each next one. With a
    /// <paramref name="connection"/>, a call cut off by a lost gateway connection, or failing while no gateway is
    /// connected, is made again every <see cref="FailoverDelay"/> for up to <see cref="FailoverWindow"/>, without
    /// counting as an attempt.
    /// </summary>
    internal static async Task<T> RetryWhileUnknownAsync<T>(Func<Task<T>> call, int attempts, TimeSpan delay, CancellationToken cancellationToken,
        QueueConnectionMonitor? connection = null)
    {
        var failingOverSince = (long?)null;
        for (var attempt = 1; ; )
        {
            using var cut = connection?.ForCall(SendPatience);
            var lost = cut?.Token ?? CancellationToken.None;
            try
            {
                return await WaitUnlessLostAsync(call(), lost, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested && connection is not null
                && (lost.IsCancellationRequested || ex is OperationCanceledException or ConnectionFailedException
                    || (connection.Disconnected && IsOutcomeUnknown(ex)))
                && Environment.TickCount64 - (failingOverSince ??= Environment.TickCount64) < FailoverWindow.TotalMilliseconds)
            {
                await Task.Delay(FailoverDelay, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (attempt < attempts && IsOutcomeUnknown(ex) && !cancellationToken.IsCancellationRequested)
            {
                attempt++;
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                delay *= 2;
            }
        }
    }

    /// <summary>Waits for the call, or throws <see cref="OperationCanceledException"/> once <paramref name="lost"/> or the caller's token is cancelled.</summary>
    private static async Task<T> WaitUnlessLostAsync<T>(Task<T> call, CancellationToken lost, CancellationToken cancellationToken)
    {
        if (!lost.CanBeCanceled)
        {
            return await call.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        using var both = CancellationTokenSource.CreateLinkedTokenSource(lost, cancellationToken);
        return await call.WaitAsync(both.Token).ConfigureAwait(false);
    }

    /// <summary>
    /// A call the client never repeats (a purge or delete repeated would remove what was sent after the first): one
    /// cut off by a lost gateway connection throws <see cref="TimeoutException"/> with <paramref name="lostMessage"/> at once.
    /// </summary>
    private async Task<long> CallNeverRepeatedAsync(Func<Task<long>> call, string lostMessage, CancellationToken cancellationToken)
    {
        using var cut = _connection?.ForCall(Timeout.InfiniteTimeSpan);
        try
        {
            return await WaitUnlessLostAsync(call(), cut?.Token ?? CancellationToken.None, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException(lostMessage);
        }
    }

    private static bool IsOutcomeUnknown(Exception ex) =>
        ex is TimeoutException or SiloUnavailableException or OrleansMessageRejectionException
            or QueueException { Code: QueueErrorCode.StorageFailed or QueueErrorCode.ServerBusy };
}
