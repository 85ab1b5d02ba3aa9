using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;
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
        try
        {
            var previous = membership.CurrentSnapshot;
            var waking = WakeAllAsync("this silo started", stop);
            await foreach (var snapshot in membership.MembershipUpdates.WithCancellation(stop))
            {
                var died = snapshot.CreateUpdate(previous).Changes
                    .Where(m => m.Status == SiloStatus.Dead && previous.GetSiloStatus(m.SiloAddress) != SiloStatus.Dead)
                    .Select(m => m.SiloAddress)
                    .ToList();
                previous = snapshot;
                if (died.Count > 0)
                {
                    await waking; // one sweep at a time: the next one wakes what died since
                    waking = WakeAllAsync($"silo {string.Join(", ", died)} died", stop);
                }
            }

            await waking;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            LogStopped(ex); // membership updates ended: queues still wake by their reminders
        }
    }

    /// <summary>Wakes every queue listed with push subscribers, trying again (1, 2, 4 ... 30 s apart) what failed.</summary>
    private async Task WakeAllAsync(string reason, CancellationToken stop)
    {
        var watch = Stopwatch.StartNew();
        var shards = Enumerable.Range(0, QueueRegistry.Shards).ToList();
        var woken = 0;
        for (var delay = TimeSpan.FromSeconds(1); ; delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxRetryDelay.Ticks)))
        {
            var failedShards = new List<int>();
            var queues = new List<string>();
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

                    LogShardFailed(ex, shard, reason);
                }
            });

            var failedQueues = 0;
            await Parallel.ForEachAsync(queues, new ParallelOptions { MaxDegreeOfParallelism = Wakes, CancellationToken = stop }, async (queue, _) =>
            {
                try
                {
                    await grains.GetGrain<IQueueWake>(queue).Wake();
                    Interlocked.Increment(ref woken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // The queue failed to load (storage down, say): it is listed still, so the retry reads its shard again.
                    Interlocked.Increment(ref failedQueues);
                    lock (failedShards)
                    {
                        failedShards.Add(QueueRegistry.ShardOf(queue));
                    }

                    LogQueueFailed(ex, queue, reason);
                }
            });

            if (failedShards.Count == 0)
            {
                LogWoken(woken, reason, watch.ElapsedMilliseconds);
                return;
            }

            shards = [.. failedShards.Distinct()];
            await Task.Delay(delay, stop);
        }
    }

    [LoggerMessage(42, LogLevel.Information, "Woke {Count} queues with push subscribers ({Reason}) in {Milliseconds} ms")]
    private partial void LogWoken(int count, string reason, long milliseconds);

    [LoggerMessage(43, LogLevel.Warning, "Reading queue registry shard {Shard} to wake its queues ({Reason}) failed; tried again shortly")]
    private partial void LogShardFailed(Exception exception, int shard, string reason);

    [LoggerMessage(44, LogLevel.Warning, "Waking queue {Queue} ({Reason}) failed; tried again shortly")]
    private partial void LogQueueFailed(Exception exception, string queue, string reason);

    [LoggerMessage(45, LogLevel.Warning, "The queue waker stopped following cluster membership; queues whose silo dies are woken by their reminders only")]
    private partial void LogStopped(Exception exception);
}
