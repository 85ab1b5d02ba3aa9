using OrleansQueue.Storage;

namespace OrleansQueue.Appending;

/// <summary>
/// Plans one group commit: which pending messages are new (not duplicates of stored ones, nor of each other), their
/// sequence numbers, the segment writes they go into (the log's <see cref="SegmentAppend{TSegment, TEntry}"/> decides
/// segments and chunks), and which of them are stored already locked for waiting push consumers. Changes nothing.
/// </summary>
internal static class AppendPlanner
{
    /// <summary>Where the delivery window stands when the plan is made: what a written segment would join.</summary>
    /// <param name="LastSegment">The id of the window's last segment (head - 1 when it is empty).</param>
    /// <param name="Count">Segments in the window.</param>
    /// <param name="Messages">Messages in the window.</param>
    /// <param name="Bytes">Their estimated stored size.</param>
    /// <param name="TakesMore">Whether a window of so many segments, messages and bytes takes another segment.</param>
    /// <param name="HoldsWholeQueue">Whether every message older than the new ones is in the window.</param>
    public readonly record struct WindowView(long LastSegment, int Count, long Messages, long Bytes, Func<int, long, long, bool> TakesMore, bool HoldsWholeQueue);

    /// <summary>
    /// Plans the segment writes for <paramref name="pending"/> into <paramref name="append"/>, which starts at the
    /// tail. With <paramref name="lockOnAppend"/> above zero, that many of the new messages (the first ones, and only
    /// those whose segment joins the window when written) are stored already locked for
    /// <paramref name="lockDuration"/>: their first delivery is durable with the message.
    /// </summary>
    public static AppendPlan Plan(SegmentAppend<SegmentState, StoredMessage> append, IReadOnlyList<PendingMessage> pending, DateTimeOffset now,
        long nextSeq, DuplicateIndex duplicates, WindowView window, int lockOnAppend, TimeSpan lockDuration)
    {
        var sequences = new long[pending.Count];
        var newMessages = new List<StoredMessage>(pending.Count);
        Dictionary<UInt128, long>? inPlan = null;
        var next = nextSeq;
        var locked = 0;
        // Which segments join the window when written: the window's last one, then new ones while it has room.
        var windowLast = window.LastSegment;
        var windowCount = window.Count;
        var (windowMessages, windowBytes) = (window.Messages, window.Bytes);
        bool JoinsWindow(long id)
        {
            if (windowCount > 0 && windowLast == id)
            {
                return true;
            }

            if (id == windowLast + 1 && window.TakesMore(windowCount, windowMessages, windowBytes))
            {
                windowLast = id;
                windowCount++;
                return true;
            }

            return false;
        }

        var segmentId = append.SegmentId;
        var locking = lockOnAppend > 0 && window.HoldsWholeQueue && JoinsWindow(segmentId);

        for (var i = 0; i < pending.Count; i++)
        {
            var p = pending[i];
            var key = p.Key;
            if (duplicates.TryGet(key, out var existing) || (inPlan?.TryGetValue(key, out existing) ?? false))
            {
                sequences[i] = existing;
                continue;
            }

            var stored = p.ToStored(next, now);
            if (append.Add(stored, p.EstimatedBytes) != segmentId)
            {
                segmentId = append.SegmentId;
                locking = locking && JoinsWindow(segmentId);
            }

            if (locking && locked < lockOnAppend && !(stored.ExpiresAt <= now)) // an expired message is never delivered
            {
                // The append stores the message as it is when written: its first lock goes with it.
                stored.FirstLeaseToken = RandomIds.NewGuid();
                stored.FirstLeasedUntil = now + lockDuration;
                locked++;
            }

            if (locking)
            {
                (windowMessages, windowBytes) = (windowMessages + 1, windowBytes + p.EstimatedBytes); // in a segment that joins
            }

            newMessages.Add(stored);
            sequences[i] = next;
            if (duplicates.Enabled)
            {
                (inPlan ??= [])[key] = next;
            }

            next++;
        }

        return new AppendPlan(append.Writes, sequences, newMessages, locked);
    }
}
