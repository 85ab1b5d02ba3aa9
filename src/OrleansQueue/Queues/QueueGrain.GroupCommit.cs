using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using OrleansQueue.Appending;
using OrleansQueue.DeadLetters;
using OrleansQueue.Delivery;
using OrleansQueue.Diagnostics;
using OrleansQueue.Internal;
using OrleansQueue.Retention;
using OrleansQueue.Storage;

namespace OrleansQueue.Queues;

/// <summary>Sends: validation, staging, and the group commit that stores many callers' messages in one segment write.</summary>
internal sealed partial class QueueGrain
{
    private sealed class EnqueueRequest(List<PendingMessage> messages, long stagedAt, long bytes, long bodyBytes)
    {
        public List<PendingMessage> Messages { get; } = messages;

        /// <summary>The messages' body bytes, counted against the queue's MaxLengthBytes while they wait.</summary>
        public long BodyBytes { get; } = bodyBytes;

        /// <summary>The estimated stored size of the messages, counted against MaxStagedBytes while they wait.</summary>
        public long Bytes { get; } = bytes;

        /// <summary>When the request joined the pending enqueues (<see cref="TimeProvider.GetTimestamp"/>), for the commit-wait metric.</summary>
        public long StagedAt { get; } = stagedAt;

        public TaskCompletionSource<long[]> Completion { get; } = new();
    }

    // ------------------------------------------------------------------ enqueue

    public Task<long[]> Enqueue(OutgoingMessage[] messages) => EnqueueCoreAsync(messages, null);

    public Task<long[]> EnqueueRedriven(OutgoingMessage[] messages, string[] dedupKeys)
    {
        if (dedupKeys is null || messages is null || dedupKeys.Length != messages.Length)
        {
            throw new QueueException(QueueErrorCode.InvalidBatch, "Every redriven message needs one duplicate-detection key.");
        }

        return EnqueueCoreAsync(messages, dedupKeys);
    }

    /// <summary>
    /// A send: messages due now are group-committed into the queue's log, those due later stored in its schedule (after
    /// the others). <paramref name="moveGeneration"/> marks scheduled messages joining the queue (checked when sent, all
    /// due now): they are sent only into the activation of that generation.
    /// </summary>
    private async Task<long[]> EnqueueCoreAsync(OutgoingMessage[] messages, string[]? dedupKeys, int? moveGeneration = null)
    {
        using var activity = StartActivity("enqueue");
        if (moveGeneration is null)
        {
            QueueLimits.ValidateBatch(messages, _options.MaxMessageBodyBytes, _options.MaxBatchCount, _options.MaxBatchBodyBytes);
            QueueLimits.ValidateSchedule(messages, _time.GetUtcNow());
        }

        var core = await GetCoreAsync();
        if (moveGeneration is { } expected && expected != _generation)
        {
            throw Dropped();
        }

        var sentAt = _time.GetUtcNow();
        core.TrimDedup(sentAt); // ids out of the window are forgotten before this send is checked
        var traceParent = CurrentTraceParent();
        if (messages.Length > 1)
        {
            activity?.SetTag("batch.size", messages.Length);
        }

        var result = new long[messages.Length];
        var pending = new List<PendingMessage>(messages.Length);
        var pendingIndex = new List<int>(messages.Length);
        // Made only when a call needs them (most sends are one message, due now).
        List<PendingMessage>? later = null;
        List<int>? laterIndex = null;
        var firstOfId = messages.Length > 1 ? new Dictionary<UInt128, (int Index, bool Due)>() : null;
        List<(int Index, int First)>? repeats = null;
        for (var i = 0; i < messages.Length; i++)
        {
            var outgoing = messages[i];
            var due = outgoing.ScheduledEnqueueTime is { } at && at > sentAt && moveGeneration is null;
            if (!due && outgoing.ScheduledEnqueueTime is not null && moveGeneration is null)
            {
                outgoing = outgoing with { ScheduledEnqueueTime = null }; // not in the future: an ordinary send
            }

            var id = outgoing.MessageId ?? RandomIds.NewGuid().ToString("N");
            // A scheduled message joining the queue keeps the expiry stamped when it was sent (the queue's default of then).
            var expiresAt = moveGeneration is null
                ? core.DeliverySettings.ExpiresAt(outgoing.TimeToLive, outgoing.ScheduledEnqueueTime, sentAt)
                : outgoing.TimeToLive is { } ttl ? (outgoing.ScheduledEnqueueTime ?? sentAt) + ttl : null;
            _expiringSeen |= expiresAt is not null;
            var message = new PendingMessage(outgoing, id, SegmentSizing.EstimateBytes(outgoing, id, traceParent, dedupKeys?[i]), dedupKeys?[i], traceParent, expiresAt);
            if (messages.Length == 1)
            {
                activity?.SetTag("message.id", id);
            }

            if (core.TryGetDuplicate(message.Key, out var existing))
            {
                result[i] = existing;
                continue;
            }

            if (firstOfId is not null && core.DuplicateDetectionWindow > TimeSpan.Zero && firstOfId.TryGetValue(message.Key, out var first))
            {
                if (due || first.Due)
                {
                    (repeats ??= []).Add((i, first.Index)); // the same id twice in one call, one of them scheduled: stored once
                    continue;
                }

                // Both due now: the log's append plan stores it once and gives both its number.
            }
            else if (firstOfId is not null)
            {
                firstOfId[message.Key] = (i, due);
            }

            if (due)
            {
                (later ??= []).Add(message);
                (laterIndex ??= []).Add(i);
            }
            else
            {
                pending.Add(message);
                pendingIndex.Add(i);
            }
        }

        if (pending.Count > 0)
        {
            await SendNowAsync(core, pending, pendingIndex, result);
        }

        if (later is not null)
        {
            var numbers = await ScheduleAsync(later, sentAt, pending.Count > 0
                ? "The call's messages due now were stored; those due later were not."
                : "Nothing was stored.");
            for (var i = 0; i < numbers.Length; i++)
            {
                result[laterIndex![i]] = numbers[i];
            }
        }

        foreach (var (index, first) in repeats ?? [])
        {
            result[index] = result[first];
        }

        return result;
    }

    /// <summary>Stages <paramref name="pending"/> for the group commit (within the length and staged-bytes limits) and fills in their sequence numbers once stored.</summary>
    private async Task SendNowAsync(QueueCore core, List<PendingMessage> pending, List<int> pendingIndex, long[] result)
    {
        long bodyBytes = 0;
        foreach (var message in pending)
        {
            bodyBytes += message.Message.Body.Length;
        }

        long bytes = 0;
        foreach (var message in pending)
        {
            bytes += message.EstimatedBytes;
        }

        // Before any room is made: a send refused for staged bytes drops nothing.
        ThrowIfStagedBytesFull(bytes);

        // NextSeq - AckedBelow bounds the length from above in O(1); count exactly only near the limit.
        var maxBytes = core.DeliverySettings.MaxLengthBytes;
        if (core.ActiveUpperBound + _stagedMessages + pending.Count > core.DeliverySettings.MaxLength
            || (maxBytes > 0 && core.LengthBytes + _stagedBodyBytes + bodyBytes > maxBytes))
        {
            ExpireMessages(core, _time.GetUtcNow()); // near a limit: expired messages take no room (checked only here, off the usual path)
            await MakeRoomAsync(core, pending.Count, bodyBytes);
            ThrowIfStagedBytesFull(bytes); // other sends were staged while it made room
        }

        var request = new EnqueueRequest(pending, _time.GetTimestamp(), bytes, bodyBytes);
        _pendingEnqueues.Add(request);
        _stagedMessages += pending.Count;
        _stagedBodyBytes += bodyBytes;
        _stagedBytes += bytes;
        _enqueueFlush.Start();

        var sequences = await request.Completion.Task;
        for (var i = 0; i < sequences.Length; i++)
        {
            result[pendingIndex[i]] = sequences[i];
        }
    }

    private void ThrowIfStagedBytesFull(long bytes)
    {
        if (_stagedBytes > 0 && _stagedBytes + bytes > _options.MaxStagedBytes)
        {
            throw new QueueException(QueueErrorCode.ServerBusy,
                $"Queue '{QueueName}' has {_stagedBytes} bytes of sends waiting for storage (at most {_options.MaxStagedBytes}); nothing was stored. Retry in a moment.");
        }
    }

    /// <summary>
    /// Makes room for <paramref name="adding"/> new messages within the queue's <c>MaxLength</c>, as its
    /// <see cref="QueueOverflow"/> says: refuses them (<see cref="QueueErrorCode.QueueFull"/>), or drops or dead-letters
    /// as many of the oldest ready messages as they exceed it by, loading them into the window first. Refuses them too
    /// when not enough ready messages are left to take (the oldest are locked), or when they alone exceed the length.
    /// The drops are stored with the next cursor write, which the send does not wait for: after a crash before it,
    /// the dropped messages are back, and the next sends drop them again.
    /// </summary>
    private async Task MakeRoomAsync(QueueCore core, int adding, long addingBytes)
    {
        while (true)
        {
            var settings = core.DeliverySettings;
            var excess = Math.Max(0, core.Length + _stagedMessages + adding - settings.MaxLength);
            var excessBytes = settings.MaxLengthBytes > 0 ? Math.Max(0, core.LengthBytes + _stagedBodyBytes + addingBytes - settings.MaxLengthBytes) : 0;
            if (excess == 0 && excessBytes == 0)
            {
                return;
            }

            var queued = $"{core.Length + _stagedMessages:N0} messages of at most {settings.MaxLength:N0}" +
                (settings.MaxLengthBytes > 0 ? $", {core.LengthBytes + _stagedBodyBytes:N0} body bytes of at most {settings.MaxLengthBytes:N0}" : "");
            if (settings.Overflow == QueueOverflow.RejectNew || adding > settings.MaxLength || (settings.MaxLengthBytes > 0 && addingBytes > settings.MaxLengthBytes))
            {
                throw new QueueException(QueueErrorCode.QueueFull,
                    $"Queue '{QueueName}' holds {queued}; the {adding} new message(s) ({addingBytes:N0} body bytes) do not fit. Nothing was stored.");
            }

            if (core.ReadyCovers(excess, excessBytes))
            {
                var deadLetter = settings.Overflow == QueueOverflow.DeadLetterOldest;
                var taken = core.DropOldest(excess, excessBytes, deadLetter, _time.GetUtcNow());
                if (taken == 0)
                {
                    throw new QueueException(QueueErrorCode.ServerBusy,
                        $"Queue '{QueueName}' holds {queued} and its moves to the dead-letter grain are backed up: no room was made, nothing was stored. Retry in a moment.");
                }

                LogOverflow(QueueName, taken, deadLetter ? "dead-lettered" : "dropped");
                PublishDepth();
                CommitMetaInBackground();
                if (deadLetter)
                {
                    StartMoves();
                }

                continue; // checked again: a move with no room is not made
            }

            var generation = _generation;
            var before = core.ReadyInWindow;
            await FillWindowAsync((int)Math.Min(core.ReadyInWindow + Math.Max(excess, 1), int.MaxValue));
            EnsureGeneration(generation);
            if (core.ReadyInWindow <= before)
            {
                throw new QueueException(QueueErrorCode.QueueFull,
                    $"Queue '{QueueName}' holds {queued}, and too few of its oldest messages are ready to make room " +
                    $"({settings.Overflow}): the others are locked or waiting. Nothing was stored.");
            }
        }
    }

    /// <summary>Writes pending enqueues, many callers per write, until none is left. One runs at a time.</summary>
    private async Task RunEnqueueFlushesAsync(int generation)
    {
        Activity.Current = null; // the writes serve every caller, not the one whose send started the loop
        while (generation == _generation && _pendingEnqueues.Count > 0)
        {
            var take = 0;
            var count = 0;
            while (take < _pendingEnqueues.Count && (take == 0 || count + _pendingEnqueues[take].Messages.Count <= _options.GroupCommitMaxMessages))
            {
                count += _pendingEnqueues[take].Messages.Count;
                take++;
            }

            var requests = _pendingEnqueues.GetRange(0, take);
            var batch = requests.SelectMany(r => r.Messages).ToList();
            var core = _core!;
            var log = _log!;
            var now = _time.GetUtcNow();
            // Push consumers waiting with credit get the new messages leased in the same write that stores them:
            // the first delivery is as durable as the message, and no cursor write stands before the push.
            DropExpiredSubscriptions(core, now);
            if (core.ParkHeldHeads(now) > 0)
            {
                LogParked(QueueName, core.HeadSegment - 1, core.ParkedCount); // stragglers keep no room in the window or the cursor
            }

            var credit = _consumers.Count > 0 && core.CanLeaseOnAppend(now) ? TakeCredit(batch.Count) : [];
            var plan = core.PlanAppend(log.BeginAppend(), batch, now, credit.Count, core.LockDuration);
            ReturnCredit(credit, plan.LeasedOnAppend);
            var createdSegment = plan.Segments.Any(s => s.Id != core.Tail.Id);
            var leases = new List<Lease>(plan.LeasedOnAppend);
            int landedMessages = 0;
            long landedBodyBytes = 0;
            var writeStart = _time.GetTimestamp();
            try
            {
                // Each segment's last chunk only: a new chunk record, or the small last one rewritten by its ETag.
                var written = await log.WriteAsync(plan.Segments, segment =>
                {
                    if (generation != _generation)
                    {
                        return false; // invalidated meanwhile: the requests were failed there
                    }

                    // Landed messages leave the staged counts now: the length counts them from here on, and a
                    // commit written in several rounds must not count them twice meanwhile.
                    var (seqBefore, bytesBefore) = (core.NextSeq, core.LengthBytes);
                    leases.AddRange(core.SegmentWritten(segment, now));
                    var (landed, landedBytes) = ((int)(core.NextSeq - seqBefore), core.LengthBytes - bytesBefore);
                    (landedMessages, landedBodyBytes) = (landedMessages + landed, landedBodyBytes + landedBytes);
                    (_stagedMessages, _stagedBodyBytes) = (_stagedMessages - landed, _stagedBodyBytes - landedBytes);
                    return true;
                });
                if (!written)
                {
                    return;
                }
            }
            catch (Exception ex)
            {
                Invalidate(ex);
                return;
            }

            RecordCommit(requests, plan.NewMessages.Count, writeStart);
            _pendingEnqueues.RemoveRange(0, take);
            _stagedMessages -= batch.Count - landedMessages; // the rest: duplicates the plan left out
            _stagedBodyBytes += landedBodyBytes;
            foreach (var request in requests)
            {
                _stagedBytes -= request.Bytes;
                _stagedBodyBytes -= request.BodyBytes;
            }

            var offset = 0;
            foreach (var request in requests)
            {
                request.Completion.TrySetResult(plan.Sequences[offset..(offset + request.Messages.Count)]);
                offset += request.Messages.Count;
            }

            LogEnqueued(QueueName, plan.NewMessages.Count, requests.Count, plan.Segments.Count);
            RecordEnqueued(plan.NewMessages.Count);
            ReturnCredit(credit, leases.Count); // none back, unless a segment did not join the window
            if (leases.Count > 0)
            {
                RecordLeases(leases);
                ArmTimer();
                StartPushes(leases, credit, generation);
            }

            OnMessagesReady();
            if (createdSegment)
            {
                // Keep the cursor's tail hint close, so activation probes few segments. Nobody waits on it.
                CommitMetaInBackground();
            }
        }
    }
}
