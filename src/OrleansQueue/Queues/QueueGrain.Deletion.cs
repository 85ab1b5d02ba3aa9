using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using OrleansQueue.Diagnostics;
using OrleansQueue.Registry;
using OrleansQueue.Storage;

namespace OrleansQueue.Queues;

/// <summary>
/// Deleting the queue. Calls that arrive meanwhile wait at <see cref="GetCoreAsync"/>; storage calls already under way
/// finish first (a send whose write lands is confirmed, then deleted), and no new one starts but the delete's own. The
/// cursor is marked <see cref="QueueMetaState.Deleting"/>, then every segment (the newest first), every in-flight
/// page, the registry entry and last the cursor are deleted. A deletion cut short is finished when the queue next
/// loads, before anything else: the mark is how it knows.
/// </summary>
internal sealed partial class QueueGrain
{
    /// <summary>Segments deleted at once.</summary>
    private const int SegmentParallelDeletes = 8;

    /// <summary>Set while the delete's own calls run (they pass the fence that stops every other storage call).</summary>
    private static readonly AsyncLocal<bool> InDeletion = new();

    private TaskCompletionSource? _deleting;
    private bool _storageFenced;
    private int _storageCalls;
    private TaskCompletionSource? _storageIdle;

    public async Task<long> Delete()
    {
        QueueCore core;
        while (true)
        {
            core = await GetCoreAsync(); // also finishes a deletion that was cut short
            if (_deleting is not { } running)
            {
                break;
            }

            await running.Task; // one delete at a time: the next deletes what was sent after the first, and counts it
        }

        var deleting = _deleting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            _storageFenced = true;
            await StorageIdleAsync();
            var removed = (_core ?? core).ActiveCount;
            var deleted = new QueueException(QueueErrorCode.StorageFailed,
                $"Queue '{QueueName}' was deleted before this message was stored: it was not stored. Send it again (to a new queue of that name).");
            DropState(deleted);
            _schedule = null;
            if (_listingUpdate is { } listing)
            {
                // A registry call under way (a first subscription's listing): it lands before the delete unlists the queue.
                await listing.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Current);
            }

            InDeletion.Value = true;
            var meta = new GrainState<QueueMetaState>();
            await ReadRecordAsync(StateNames.Meta, meta);
            // Marked even when there is no cursor yet (a queue that only took sends): its segments are found from the start.
            meta.State ??= new QueueMetaState();
            meta.State.Deleting = true;
            await WriteTimedAsync("cursor", StateNames.Meta, meta);
            removed += await FinishDeletionAsync(meta);

            LogDeleted(QueueName, removed);
            DeactivateOnIdle(); // the next call starts a new empty queue in a fresh activation
            return removed;
        }
        catch (Exception ex)
        {
            LogDeleteFailed(ex, QueueName);
            if (ex is QueueException)
            {
                throw;
            }

            throw new QueueException(QueueErrorCode.StorageFailed,
                $"Deleting queue '{QueueName}' failed ({ex.GetType().Name}: {ex.Message}); some of its records may be deleted already. " +
                "Delete it again: the queue finishes the deletion before it serves any other call.");
        }
        finally
        {
            InDeletion.Value = false;
            _storageFenced = false;
            _deleting = null;
            deleting.SetResult();
        }
    }

    /// <summary>Waits while a delete runs (the delete's own calls pass).</summary>
    private async Task WaitWhileDeletingAsync()
    {
        while (_deleting is { } running && !InDeletion.Value)
        {
            await running.Task;
        }
    }

    /// <summary>
    /// Deletes every record of a queue whose cursor (<paramref name="meta"/>, as stored) is marked
    /// <see cref="QueueMetaState.Deleting"/>: its segments, newest first, its in-flight pages, its registry entry, and
    /// the cursor last. Before it deletes anything, the mark is written again with the queue's real tail segment and
    /// last in-flight page when the cursor's hints lag behind them (segments and pages written after the cursor): a
    /// deletion cut short then finds every record it left, whatever holes the parallel deletes made.
    /// </summary>
    /// <returns>How many scheduled messages it removed.</returns>
    private async Task<long> FinishDeletionAsync(IGrainState<QueueMetaState> meta)
    {
        var state = meta.State!; // a stored cursor
        var log = NewMessageLog();
        await log.OpenAsync(state.RetainedFrom, state.TailSegment, state.AckedBelow); // finds segments past the tail hint

        // The in-flight pages the cursor names, and any written after it: the first missing one past them ends them.
        var pages = new List<(long Id, GrainState<InFlightPageState> State)>();
        for (var id = state.InFlightPagesFrom; ; id++)
        {
            var page = new GrainState<InFlightPageState>();
            await ReadRecordAsync(StateNames.InFlightPage(id), page);
            if (page.RecordExists)
            {
                pages.Add((id, page));
            }
            else if (id >= state.InFlightPagesTo)
            {
                break;
            }
        }

        var pagesTo = pages.Count > 0 ? Math.Max(state.InFlightPagesTo, pages[^1].Id + 1) : state.InFlightPagesTo;
        if (log.TailSegment > state.TailSegment || pagesTo > state.InFlightPagesTo)
        {
            (state.TailSegment, state.InFlightPagesTo) = (Math.Max(state.TailSegment, log.TailSegment), pagesTo);
            await WriteTimedAsync("cursor", StateNames.Meta, meta);
        }

        await log.DeleteAllAsync(SegmentParallelDeletes);
        foreach (var (id, page) in pages)
        {
            await ClearRecordAsync(StateNames.InFlightPage(id), page);
        }

        // The schedule: its segments' records, then its index (which names every record it wrote).
        var schedule = NewScheduleStore();
        await schedule.LoadAsync();
        var scheduled = await schedule.ClearAsync(deleteIndex: true);

        // Always: the cursor may not yet say what the registry was told (a first subscription listed the queue, and
        // its cursor write never came). Unlisting a queue not listed changes nothing.
        await GrainFactory.ShardFor(QueueName).Set(QueueName, hasSubscribers: false);

        await ClearRecordAsync(StateNames.Meta, meta);
        await UnregisterWakeReminderAsync();
        return scheduled;
    }

    private async Task UnregisterWakeReminderAsync()
    {
        try
        {
            if (await this.GetReminder(WakeReminder) is { } reminder)
            {
                await this.UnregisterReminder(reminder);
            }

            _reminderRegistered = false;
        }
        catch (Exception ex)
        {
            // Harmless: the reminder wakes an empty queue, which then unregisters it.
            LogReminderUnavailable(ex, QueueName);
        }
    }

    /// <summary>
    /// Counts a storage call of the queue for the duration of the returned scope. While a delete runs, only its own
    /// calls are allowed; any other fails as a storage failure, and its owner drops its state as after any failed write.
    /// </summary>
    private StorageCall EnterStorage()
    {
        if (_storageFenced && !InDeletion.Value)
        {
            throw new QueueException(QueueErrorCode.StorageFailed, $"Queue '{QueueName}' is being deleted; retry.");
        }

        _storageCalls++;
        return new StorageCall(this);
    }

    private Task StorageIdleAsync()
    {
        if (_storageCalls == 0)
        {
            return Task.CompletedTask;
        }

        _storageIdle ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        return _storageIdle.Task;
    }

    private readonly struct StorageCall(QueueGrain grain) : IDisposable
    {
        public void Dispose()
        {
            if (--grain._storageCalls == 0 && grain._storageIdle is { } idle)
            {
                grain._storageIdle = null;
                idle.SetResult();
            }
        }
    }

    [LoggerMessage((int)LogEvent.QueueDeleted, LogLevel.Information, "Queue {Queue}: deleted with {Count} message(s) and every record of it")]
    private partial void LogDeleted(string queue, long count);

    [LoggerMessage((int)LogEvent.QueueDeletionResumed, LogLevel.Information, "Queue {Queue}: a deletion cut short is finished before the queue loads")]
    private partial void LogDeletionResumed(string queue);

    [LoggerMessage((int)LogEvent.QueueDeleteFailed, LogLevel.Warning, "Queue {Queue}: deleting it failed; the next call or activation finishes the deletion")]
    private partial void LogDeleteFailed(Exception exception, string queue);
}
