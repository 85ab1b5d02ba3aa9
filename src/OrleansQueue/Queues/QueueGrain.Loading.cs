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
using MessageLog = OrleansQueue.Storage.SegmentedLog<OrleansQueue.Storage.SegmentState, OrleansQueue.Storage.StoredMessage>;

namespace OrleansQueue.Queues;

/// <summary>Loading the queue from storage (<see cref="QueueLoader"/>) and filling the delivery window as messages are wanted.</summary>
internal sealed partial class QueueGrain
{
    private async Task<QueueCore> GetCoreAsync()
    {
        QueueLimits.ValidateQueueName(QueueName);
        await WaitWhileDeletingAsync();
        while (_core is null)
        {
            await WaitWhileDeletingAsync(); // a delete may have started, and dropped the state, while this call waited for a load
            _loading ??= LoadAsync();
            try
            {
                await _loading;
            }
            catch (QueueException)
            {
                _loading = null; // the next call reads again
                throw;
            }
            catch (Exception ex)
            {
                _loading = null;
                throw new QueueException(QueueErrorCode.StorageFailed,
                    $"Reading queue '{QueueName}' from storage failed ({ex.GetType().Name}: {ex.Message}); retry.");
            }
        }

        return _core;
    }

    private async Task LoadAsync()
    {
        var generation = _generation;
        var loader = new QueueLoader(_limits, _time, ReadMetaFinishingDeletionAsync, ReadRecordAsync<InFlightPageState>, MissingSegment);
        var (core, log, metaETag) = await loader.LoadAsync(NewMessageLog(), SegmentReadAhead);
        if (generation != _generation)
        {
            throw new QueueException(QueueErrorCode.StorageFailed, $"Queue '{QueueName}' dropped its state while loading it (a delete); retry.");
        }

        var tail = core.Tail;
        _metaETag = metaETag;
        _core = core;
        _log = log;
        _metaPump = new CommitPump(WriteMetaAsync, Invalidate, _options.CursorWriteDelay);
        _loading = null;
        _expiringSeen = core.AnyExpiring();
        LogLoaded(QueueName, core.HeadSegment, tail.Id, core.ActiveCount, core.LockedCount);
        PublishDepth();
        ArmTimer();
        StartCleanup();
        OnLoaded(core);
    }

    /// <summary>
    /// Loads head segments into the window until it has <paramref name="wanted"/> ready messages or is full. A full
    /// window with nothing ready while more messages wait in storage moves past its head: the head's in-flight
    /// messages are parked (<see cref="QueueCore.TryParkHead"/>), so a held message never blocks the others.
    /// </summary>
    private async Task FillWindowAsync(int wanted)
    {
        while (_core is { } core && core.ReadyInWindow < wanted)
        {
            if (core.NextSegmentToLoad is not { } id)
            {
                if (!core.TryParkHead(_time.GetUtcNow()))
                {
                    break;
                }

                LogParked(QueueName, core.HeadSegment - 1, core.ParkedCount);
                continue;
            }

            if (_windowLoad is { } running)
            {
                await running;
                continue;
            }

            _windowLoad = LoadWindowSegmentAsync(core, _log!, id, _generation);
            try
            {
                await _windowLoad;
            }
            finally
            {
                _windowLoad = null;
            }
        }
    }

    private async Task LoadWindowSegmentAsync(QueueCore core, MessageLog log, long id, int generation)
    {
        SegmentState segment;
        try
        {
            segment = await log.ReadAsync(id) ?? throw MissingSegment(id);
        }
        catch (Exception ex) when (ex is not QueueException and not InvalidOperationException)
        {
            throw new QueueException(QueueErrorCode.StorageFailed,
                $"Reading segment {id} of queue '{QueueName}' failed ({ex.GetType().Name}: {ex.Message}); retry.");
        }

        if (generation == _generation && core.NextSegmentToLoad == id)
        {
            _expiringSeen |= segment.Messages.Exists(m => m.ExpiresAt is not null);
            core.AddWindowSegment(id, segment, _time.GetUtcNow());
        }
    }

    /// <summary>The queue's segmented log over its storage, not yet opened (writes timed as segment writes).</summary>
    private MessageLog NewMessageLog() =>
        new(new TimedRecordStore(this, "segment"), StateNames.SegmentChunk, _limits.Segments, SegmentSizing.EstimateBytes,
            SegmentParallelWrites, LogGapRepair.DeleteWhatFollows);

    /// <summary>Reads one of the queue's records; a record written in another encoding fails with an error naming the setting.</summary>
    private async Task ReadRecordAsync<T>(string stateName, IGrainState<T> state)
    {
        using var call = EnterStorage();
        await StorageReadErrors.ReadStateAsync(_storage, _options.StorageName, stateName, this.GetGrainId(), state);
    }

    /// <summary>Reads the cursor; one marked <see cref="QueueMetaState.Deleting"/> is a deletion cut short: it is finished first, and the queue loads empty.</summary>
    private async Task ReadMetaFinishingDeletionAsync(string stateName, IGrainState<QueueMetaState> state)
    {
        await ReadRecordAsync(stateName, state);
        if (state.RecordExists && state.State is { Deleting: true })
        {
            LogDeletionResumed(QueueName);
            await FinishDeletionAsync(state);
            state.State = new QueueMetaState();
            state.ETag = null;
            state.RecordExists = false;
        }
    }
}
