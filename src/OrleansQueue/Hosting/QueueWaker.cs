using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using OrleansQueue.Diagnostics;
using OrleansQueue.Registry;

namespace OrleansQueue.Hosting;

/// <summary>
/// Wakes every queue the registry lists with push subscribers when this silo starts and whenever it sees another silo
/// die: a queue whose activation died has nobody to call it (its consumers wait to be pushed to), and without this
/// only its reminder (period 1 minute) would bring it back. Waking an active queue costs one call that does nothing.
/// </summary>
internal sealed partial class QueueWaker(IGrainFactory grains, IClusterMembershipService membership, ILogger<QueueWaker> logger)
    : ILifecycleParticipant<ISiloLifecycle>
{
    /// <summary>Registry shards read at once.</summary>
    private const int ShardReads = 8;

    /// <summary>Queues woken at once.</summary>
    private const int Wakes = 32;

    /// <summary>Attempts to wake what could not be woken (1, 2, 4 ... 30 s apart: about 3 minutes in all).</summary>
    private const int MaxAttempts = 9;

    /// <summary>Longest pause between attempts to wake what could not be woken.</summary>
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(30);

    private readonly CancellationTokenSource _stop = new();
    private Task _running = Task.CompletedTask;

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(QueueWaker), ServiceLifecycleStage.Active, OnStartAsync, OnStopAsync);

    private Task OnStartAsync(CancellationToken cancellationToken)
    {
        _running = Task.Run(() => RunAsync(_stop.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    private async Task OnStopAsync(CancellationToken cancellationToken)
    {
        await _stop.CancelAsync();
        await _running.WaitAsync(cancellationToken).ContinueWith(_ => { }, TaskScheduler.Default); // it only ever ends by the stop
    }

    private async Task RunAsync(CancellationToken stop)
    {
        var sweeps = new SweepRequests();
        try
        {
            var previous = membership.CurrentSnapshot;
            sweeps.Request("this silo started");
            var sweeping = SweepAsync(sweeps, stop);
            await foreach (var snapshot in membership.MembershipUpdates.WithCancellation(stop))
            {
                var died = snapshot.CreateUpdate(previous).Changes
                    .Where(m => m.Status == SiloStatus.Dead && previous.GetSiloStatus(m.SiloAddress) != SiloStatus.Dead)
                    .Select(m => m.SiloAddress)
                    .ToList();
                previous = snapshot;
                if (died.Count > 0 && sweeps.Request($"silo {string.Join(", ", died)} died"))
                {
                    sweeping = SweepAsync(sweeps, stop); // the last sweep ended: start another
                }
            }

            await sweeping;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            LogStopped(ex); // membership updates ended: queues still wake by their reminders
        }
    }

    /// <summary>Sweeps while sweeps are requested; a request made during a sweep is served by one more sweep after it.</summary>
    private async Task SweepAsync(SweepRequests sweeps, CancellationToken stop)
    {
        while (sweeps.Next() is { } reason)
        {
            await WakeAllAsync(reason, stop);
        }
    }

    /// <summary>
    /// Wakes every queue listed with push subscribers. What failed (a registry shard that could not be read, a queue
    /// that could not load) is tried again 1, 2, 4 ... 30 s later, at most <see cref="MaxAttempts"/> times in all:
    /// past that the queue's reminder is its backstop.
    /// </summary>
    private async Task WakeAllAsync(string reason, CancellationToken stop)
    {
        var watch = Stopwatch.StartNew();
        var shards = Enumerable.Range(0, QueueRegistry.Shards).ToList();
        var queues = new List<string>();
        var woken = 0;
        var delay = TimeSpan.FromSeconds(1);
        for (var attempt = 1; ; attempt++)
        {
            var failedShards = new List<int>();
            await Parallel.ForEachAsync(shards, new ParallelOptions { MaxDegreeOfParallelism = ShardReads, CancellationToken = stop }, async (shard, _) =>
            {
                try
                {
                    var listed = await grains.GetGrain<IQueueRegistryShard>(shard).QueuesWithSubscribers();
                    lock (queues)
                    {
                        queues.AddRange(listed);
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    lock (failedShards)
                    {
                        failedShards.Add(shard);
                    }

                    LogShardFailed(ex, shard, reason, attempt);
                }
            });

            var failedQueues = new List<string>();
            await Parallel.ForEachAsync(queues, new ParallelOptions { MaxDegreeOfParallelism = Wakes, CancellationToken = stop }, async (queue, _) =>
            {
                try
                {
                    await grains.GetGrain<IQueueWake>(queue).Wake();
                    Interlocked.Increment(ref woken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    lock (failedQueues)
                    {
                        failedQueues.Add(queue);
                    }

                    LogQueueFailed(ex, queue, reason, attempt);
                }
            });

            if (failedShards.Count == 0 && failedQueues.Count == 0)
            {
                LogWoken(woken, reason, watch.ElapsedMilliseconds);
                return;
            }

            if (attempt == MaxAttempts)
            {
                LogGaveUp(failedShards.Count, failedQueues.Count, reason, attempt);
                return;
            }

            (shards, queues) = (failedShards, failedQueues);
            await Task.Delay(delay, stop);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxRetryDelay.Ticks));
        }
    }

    /// <summary>The reasons for sweeps not started yet; shared by the membership loop and the sweep it started.</summary>
    private sealed class SweepRequests
    {
        private readonly List<string> _reasons = [];
        private bool _sweeping;

        /// <summary>Asks for a sweep; true when none is running, so the caller starts one.</summary>
        public bool Request(string reason)
        {
            lock (_reasons)
            {
                _reasons.Add(reason);
                var start = !_sweeping;
                _sweeping = true;
                return start;
            }
        }

        /// <summary>The reasons of the next sweep, or null (and the sweep ends) when none was asked for.</summary>
        public string? Next()
        {
            lock (_reasons)
            {
                if (_reasons.Count == 0)
                {
                    _sweeping = false;
                    return null;
                }

                var reason = string.Join("; ", _reasons);
                _reasons.Clear();
                return reason;
            }
        }
    }

    [LoggerMessage((int)LogEvent.QueuesWoken, LogLevel.Information, "Woke {Count} queues with push subscribers ({Reason}) in {Milliseconds} ms")]
    private partial void LogWoken(int count, string reason, long milliseconds);

    [LoggerMessage((int)LogEvent.WakeShardFailed, LogLevel.Warning, "Reading queue registry shard {Shard} to wake its queues ({Reason}) failed (attempt {Attempt})")]
    private partial void LogShardFailed(Exception exception, int shard, string reason, int attempt);

    [LoggerMessage((int)LogEvent.WakeQueueFailed, LogLevel.Warning, "Waking queue {Queue} ({Reason}) failed (attempt {Attempt})")]
    private partial void LogQueueFailed(Exception exception, string queue, string reason, int attempt);

    [LoggerMessage((int)LogEvent.WakeGaveUp, LogLevel.Warning, "Gave up waking after {Attempts} attempts ({Reason}): {Shards} registry shards unread, {Queues} queues not woken; their reminders wake them")]
    private partial void LogGaveUp(int shards, int queues, string reason, int attempts);

    [LoggerMessage((int)LogEvent.WakerStopped, LogLevel.Warning, "The queue waker stopped following cluster membership; queues whose silo dies are woken by their reminders only")]
    private partial void LogStopped(Exception exception);
}
