using Orleans.Runtime;
using OrleansQueue.Delivery;
using OrleansQueue.Retention;
using OrleansQueue.Storage;
using MessageLog = OrleansQueue.Storage.SegmentedLog<OrleansQueue.Storage.SegmentState, OrleansQueue.Storage.StoredMessage>;

namespace OrleansQueue.Queues;

/// <summary>
/// Recovery: reads a queue's state from storage into a new <see cref="QueueCore"/>. The cursor record; the tail (its
/// hint, then a probe for segments written after it); the in-flight pages (the cursor's, and any written after it);
/// the delivery window, far enough to hold every message the cursor has delivery state for; and the
/// duplicate-detection index, from the newest segments back to the window or the id cap. Records are read through
/// the grain (a record written in another encoding fails with an error naming the setting).
/// </summary>
internal sealed class QueueLoader(
    QueueCoreLimits limits,
    TimeProvider time,
    Func<string, IGrainState<QueueMetaState>, Task> readMeta,
    Func<string, IGrainState<InFlightPageState>, Task> readPage,
    Func<long, Exception> missingSegment)
{
    /// <summary>The queue as stored: its core, its log (opened), and the cursor record's ETag.</summary>
    public async Task<(QueueCore Core, MessageLog Log, string? MetaETag)> LoadAsync(MessageLog log, int readAhead)
    {
        var metaState = new GrainState<QueueMetaState>();
        await readMeta(StateNames.Meta, metaState);
        var meta = metaState.RecordExists && metaState.State is not null ? metaState.State : new QueueMetaState();
        var now = time.GetUtcNow();

        // The tail: the cursor's hint, then probe forward for segments written after the hint. A cursor may name a
        // tail that was never written (a new or purged empty queue): its first message is the next to acknowledge.
        var read = new Dictionary<long, SegmentState>();
        foreach (var found in await log.OpenAsync(meta.RetainedFrom, meta.TailSegment, meta.AckedBelow))
        {
            read[found.Id] = found.Segment;
        }

        var tail = SegmentSnapshot.Of(log.Tail);

        // Body bytes: a cursor written before they were counted starts counting with the next message; a queue with
        // no cursor yet counts every message, all of them in the segments just read.
        if (metaState.RecordExists && meta.LengthBytesBelowSeq == 0)
        {
            meta.LengthBytesFromSeq = log.NextId;
        }

        // The in-flight pages: the messages in flight that the window had moved past, with their delivery state.
        var core = new QueueCore(limits, tail, meta);
        // Messages stored after the cursor was written are in the segments from its tail hint on, just read.
        core.CountStoredAfterCursor(read.Values.SelectMany(s => s.Messages),
            Math.Max(Math.Max(meta.LengthBytesBelowSeq, meta.AckedBelow), meta.LengthBytesFromSeq));
        await RestoreInFlightPagesAsync(core, meta, now, readAhead);
        core.RecountParked(meta.ParkedLengthBytes);

        // The active window, far enough to hold every message the cursor has delivery state for. Segments are read
        // readAhead at a time; at most that many are read in vain.
        var mustReach = CursorCodec.HighestRecordedSeq(meta);
        bool WindowWantsMore() => core.LoadedThrough < tail.Id && (core.NextSegmentToLoad is not null || core.NextSeqLoaded() <= mustReach);
        if (WindowWantsMore())
        {
            await log.ReadRunAsync(core.LoadedThrough + 1, tail.Id, readAhead, (id, segment) =>
            {
                if (!WindowWantsMore())
                {
                    return false;
                }

                core.AddWindowSegment(id, segment ?? throw missingSegment(id), now);
                return true;
            }, read);
        }

        core.EndRestore();

        // The duplicate-detection index, from the newest segments back to the window or the id cap.
        var dedupWindow = core.DuplicateDetectionWindow; // the queue's own, or the silo's default
        if (dedupWindow > TimeSpan.Zero)
        {
            var newestFirst = new List<SegmentState>();
            long ids = 0;
            await log.ReadRunAsync(tail.Id, meta.RetainedFrom, readAhead, (id, segment) =>
            {
                if (ids >= limits.DedupMaxIds)
                {
                    return false;
                }

                if (segment is null)
                {
                    return true; // deleted, but the cursor was not yet advanced past it
                }

                if (segment.Messages.Count > 0 && segment.Messages[^1].EnqueuedAt < now - dedupWindow)
                {
                    return false;
                }

                newestFirst.Add(segment);
                ids += segment.Messages.Count;
                if (id < core.HeadSegment && segment.Messages.Count > 0)
                {
                    core.AddRetained(new RetainedSegment(id, segment.Messages[^1].Seq, segment.Messages[^1].EnqueuedAt));
                }

                return true;
            }, read);

            for (var i = newestFirst.Count - 1; i >= 0; i--)
            {
                foreach (var message in newestFirst[i].Messages)
                {
                    core.RememberId(message.DedupKey ?? message.Id, message.Seq, message.EnqueuedAt); // a redriven or scheduled message by its own key
                }
            }

            core.TrimDedup(now);
        }

        return (core, log, metaState.ETag);
    }

    /// <summary>
    /// Reads the in-flight pages the cursor names, and any written after it (by a write whose cursor write never
    /// happened), readAhead at a time.
    /// </summary>
    private async Task RestoreInFlightPagesAsync(QueueCore core, QueueMetaState meta, DateTimeOffset now, int readAhead)
    {
        async Task<(long Id, GrainState<InFlightPageState> State)> ReadPageAsync(long id)
        {
            var state = new GrainState<InFlightPageState>();
            await readPage(StateNames.InFlightPage(id), state);
            return (id, state);
        }

        var id = meta.InFlightPagesFrom;
        var probing = false;
        while (true)
        {
            var batch = new List<Task<(long Id, GrainState<InFlightPageState> State)>>();
            for (var i = 0; i < readAhead; i++)
            {
                batch.Add(ReadPageAsync(id++));
            }

            var stop = false;
            foreach (var (pageId, state) in await Task.WhenAll(batch))
            {
                probing |= pageId >= meta.InFlightPagesTo;
                if (state.RecordExists && state.State is not null)
                {
                    if (!stop)
                    {
                        core.RestorePage(pageId, state.State, state.ETag, now);
                    }
                }
                else if (probing)
                {
                    stop = true; // past the cursor's pages: the first missing one ends them
                }
            }

            if (stop)
            {
                return;
            }
        }
    }
}
