using Microsoft.Extensions.Logging;

namespace OrleansQueue.Queues;

/// <summary>
/// Time-to-live: an expired message is never delivered (the window skips it when it locks) and a sweep drops or
/// dead-letters expired ready messages, walking the queue from its head, so they do not pile up unseen.
/// </summary>
internal sealed partial class QueueGrain
{
    private static readonly TimeSpan SweepPeriod = TimeSpan.FromSeconds(1);

    private bool _sweeping;
    private bool _expiringSeen;
    private DateTimeOffset _nextSweepAt;

    /// <summary>Whether the queue may hold messages with a time-to-live (its default, or one sent or loaded).</summary>
    private bool MayExpire(QueueCore core) => _expiringSeen || core.DeliverySettings.DefaultMessageTimeToLive > TimeSpan.Zero;

    /// <summary>Expires the window's expired ready messages now (for stats and receives); the sweep goes further.</summary>
    private void ExpireMessages(QueueCore core, DateTimeOffset now)
    {
        if (!MayExpire(core))
        {
            return;
        }

        var (dropped, deadLettered) = core.ExpireReady(now);
        AfterExpiry(dropped, deadLettered);
    }

    private void AfterExpiry(int dropped, int deadLettered)
    {
        if (dropped + deadLettered == 0)
        {
            return;
        }

        LogExpired(QueueName, dropped, deadLettered);
        PublishDepth();
        CommitMetaInBackground();
        StartCleanup();
        if (deadLettered > 0)
        {
            StartMoves();
        }
    }

    /// <summary>
    /// From the timer, at most once a second: expires the window's expired ready messages and, while that finds some,
    /// loads the next segments into the window and expires theirs, until a pass finds none.
    /// </summary>
    private async Task SweepExpiredAsync(DateTimeOffset now)
    {
        if (_sweeping || now < _nextSweepAt || _core is not { } core || !MayExpire(core))
        {
            return;
        }

        _sweeping = true;
        _nextSweepAt = now + SweepPeriod;
        var generation = _generation;
        try
        {
            while (generation == _generation)
            {
                var (dropped, deadLettered) = core.ExpireReady(_time.GetUtcNow());
                AfterExpiry(dropped, deadLettered);
                if (dropped + deadLettered == 0 || core.NextSegmentToLoad is null)
                {
                    break;
                }

                var ready = core.ReadyInWindow;
                await FillWindowAsync(ready + 1);
                if (core.ReadyInWindow <= ready)
                {
                    break; // the window is full of messages not yet expired, or in flight
                }
            }
        }
        catch (Exception ex)
        {
            LogSweepFailed(ex, QueueName); // harmless: the next sweep goes on from where this one stopped
        }
        finally
        {
            _sweeping = false;
        }
    }

    [LoggerMessage((int)Diagnostics.LogEvent.MessagesExpired, LogLevel.Debug, "Queue {Queue}: {Dropped} expired message(s) dropped, {DeadLettered} dead-lettered")]
    private partial void LogExpired(string queue, int dropped, int deadLettered);

    [LoggerMessage((int)Diagnostics.LogEvent.ExpirySweepFailed, LogLevel.Warning, "Queue {Queue}: the sweep for expired messages failed; the next one goes on")]
    private partial void LogSweepFailed(Exception exception, string queue);
}
