using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using Orleans.Runtime;
using Orleans.Storage;
using OrleansQueue.Appending;
using OrleansQueue.DeadLetters;
using OrleansQueue.Delivery;
using OrleansQueue.Diagnostics;
using OrleansQueue.Internal;
using OrleansQueue.Options;
using OrleansQueue.Push;
using OrleansQueue.Retention;
using OrleansQueue.Storage;

namespace OrleansQueue.Queues;

/// <summary>Cursor writes (in-flight pages first) and what a failed storage write does: drop the state, reload on the next call.</summary>
internal sealed partial class QueueGrain
{
    private async Task WriteMetaAsync()
    {
        var generation = _generation;
        var core = _core!;
        var log = _log!;
        if (core.ParkHeldHeads(_time.GetUtcNow()) > 0)
        {
            LogParked(QueueName, core.HeadSegment - 1, core.ParkedCount); // their delivery records leave the cursor
        }

        if (core.ParkWhileCursorOverBudget() is > 0 and var parked)
        {
            LogParkedForCursor(QueueName, parked, core.ParkedCount);
        }

        var pages = core.DirtyPages();
        var meta = core.ToMeta();
        // In-flight pages first, one at a time in id order: the cursor that moves its head past parked messages is
        // written only once they are stored, and a probe at activation finds every page written after the cursor.
        foreach (var page in pages)
        {
            var pageState = new GrainState<InFlightPageState>(page.State ?? new InFlightPageState(), page.ETag);
            if (page.State is not null)
            {
                await WriteTimedAsync("inflight", StateNames.InFlightPage(page.Id), pageState);
            }
            else if (page.ETag is not null)
            {
                await ClearRecordAsync(StateNames.InFlightPage(page.Id), pageState);
                pageState.ETag = null;
            }

            if (generation != _generation)
            {
                return;
            }

            core.PageWritten(page, pageState.ETag);
        }

        var state = new GrainState<QueueMetaState>(meta, _metaETag);
        await WriteTimedAsync("cursor", StateNames.Meta, state);
        if (generation == _generation)
        {
            _metaETag = state.ETag;
            core.CursorWritten(meta);
            log.CursorStored(meta.TailSegment);
        }
    }

    /// <summary>
    /// A cursor write that nobody waits on (a tail hint, renewals, expiries, deletions): it lingers like pushed
    /// completions, so under load one write carries them all instead of each starting its own.
    /// </summary>
    private void CommitMetaInBackground()
    {
        if (_metaPump is { } pump)
        {
            pump.CommitSoonAsync().ContinueWith(
                static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        }
    }

    /// <summary>Drops all in-memory state after a failed write; the next call reloads from storage.</summary>
    private void Invalidate(Exception failure)
    {
        LogStorageFailure(failure, QueueName, failure is InconsistentStateException);
        DropState(new QueueException(QueueErrorCode.StorageFailed,
            $"A storage write of queue '{QueueName}' failed ({failure.GetType().Name}: {failure.Message}); the queue reloads its state. The outcome is unknown: retry."));
    }

    /// <summary>
    /// Drops all in-memory state: sends not yet written, commits waiting for the cursor, receives waiting for
    /// messages and background loops end with <paramref name="error"/>; the next call reloads from storage.
    /// </summary>
    private void DropState(QueueException error)
    {
        _generation++;
        _core = null;
        _log = null;
        _loading = null;
        _windowLoad = null;
        _enqueueFlush.Reset();
        _cleanup.Reset();
        _metaPump?.Break(error);
        _metaPump = null;
        var pending = _pendingEnqueues.ToArray();
        _pendingEnqueues.Clear();
        _stagedMessages = 0;
        _stagedBytes = 0;
        _stagedBodyBytes = 0;
        foreach (var request in pending)
        {
            request.Completion.TrySetException(error);
        }

        _timer?.Dispose();
        _timer = null;
        _schedule = null; // loaded again with the queue: its recent ids go into the new duplicate-detection index
        OnInvalidated(error);
    }

    private void EnsureGeneration(int generation)
    {
        if (generation != _generation)
        {
            throw new QueueException(QueueErrorCode.StorageFailed,
                $"Queue '{QueueName}' reloaded its state from storage while the call ran; retry.");
        }
    }

    private Exception MissingSegment(long id) =>
        new InvalidOperationException($"Queue '{QueueName}': segment {id}, between the head and the tail, is missing from storage '{_options.StorageName}'.");
}
