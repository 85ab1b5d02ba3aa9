using OrleansQueue.Storage;

namespace OrleansQueue.Delivery;

/// <summary>
/// How the delivery window's state goes into the cursor record and its in-flight pages: the completed sequence
/// numbers above the watermark and a <see cref="DeliveryRecord"/> for each message whose state a reload could not
/// rebuild from its segment; and what that costs in bytes, for the cursor's budget. Reading it back is
/// <see cref="DeliveryWindow"/>'s restore.
/// </summary>
internal static class CursorCodec
{
    /// <summary>The highest sequence number that restored delivery state refers to; the window must reach it.</summary>
    public static long HighestRecordedSeq(QueueMetaState meta) =>
        Math.Max(Math.Max(meta.Completed.Count > 0 ? meta.Completed[^1] : 0, meta.Deliveries.Count > 0 ? meta.Deliveries.Max(d => d.Seq) : 0),
            meta.PendingMoves.Count > 0 ? meta.PendingMoves.Max(m => m.Seq) : 0);

    /// <summary>
    /// Adds the window's delivery state to <paramref name="meta"/>: completed sequence numbers at or above
    /// <paramref name="ackedBelow"/>, and the delivery records; over <paramref name="budgetBytes"/>, without attempt
    /// histories and error messages, so the record stays bounded whatever happens.
    /// </summary>
    public static void WriteDeliveryState(QueueMetaState meta, IReadOnlyList<WindowSegment> window, long ackedBelow, long budgetBytes)
    {
        long estimatedBytes = 0;
        foreach (var segment in window)
        {
            for (var i = 0; i < segment.Entries.Count; i++)
            {
                var entry = segment.Entries[i];
                var seq = segment.FirstSeq + i;
                if (entry.State == DeliveryState.Completed)
                {
                    if (seq >= ackedBelow)
                    {
                        meta.Completed.Add(seq);
                    }
                }
                else if (NeedsRecord(entry, segment.Messages[i]))
                {
                    estimatedBytes += RecordBytes(entry, withHistories: true);
                    meta.Deliveries.Add(ToRecord(seq, entry));
                }
            }
        }

        if (estimatedBytes > budgetBytes)
        {
            // Bounded whatever happens: keep counts, locks and delays; drop the histories.
            foreach (var record in meta.Deliveries)
            {
                record.Attempts = null;
                record.ErrorMessage = null;
            }
        }
    }

    /// <summary>The estimated bytes of the window's delivery state in the cursor record (with or without histories).</summary>
    public static long EstimateDeliveryStateBytes(IReadOnlyList<WindowSegment> window, long ackedBelow, bool withHistories)
    {
        long bytes = 0;
        foreach (var segment in window)
        {
            for (var i = 0; i < segment.Entries.Count; i++)
            {
                var entry = segment.Entries[i];
                if (entry.State == DeliveryState.Completed)
                {
                    bytes += segment.FirstSeq + i >= ackedBelow ? 12 : 0;
                }
                else if (NeedsRecord(entry, segment.Messages[i]))
                {
                    bytes += RecordBytes(entry, withHistories);
                }
            }
        }

        return bytes;
    }

    public static DeliveryRecord ToRecord(long seq, in DeliveryEntry entry) => new()
    {
        Seq = seq,
        Count = entry.DeliveryCount,
        Token = entry.State == DeliveryState.Locked ? entry.Token : null,
        LockedUntil = entry.State == DeliveryState.Locked ? entry.LockedUntil : null,
        NotBefore = entry.State == DeliveryState.Ready && entry.NotBefore != default ? entry.NotBefore : null,
        Attempts = entry.Attempts?.Select(a => a.ToUnixTimeMilliseconds()).ToList(),
        ErrorType = entry.ErrorType,
        ErrorMessage = entry.ErrorMessage,
        DeferredMove = entry.State == DeliveryState.Ready ? entry.DeferredMove : null,
        DeferredDescription = entry.State == DeliveryState.Ready ? entry.DeferredDescription : null,
    };

    /// <summary>
    /// Whether the cursor needs a delivery record for a message not completed: one delivered (unless its only delivery
    /// is the first lock its segment stored with it: a reload restores that from the segment, which keeps the cursor
    /// small while many pushed messages are out), and one whose stored first lock was undone (it is ready again).
    /// </summary>
    public static bool NeedsRecord(in DeliveryEntry entry, StoredMessage message) =>
        entry.DeliveryCount > 0 ? !IsFirstLockAsStored(entry, message) : message.FirstLeaseToken is not null;

    private static bool IsFirstLockAsStored(in DeliveryEntry entry, StoredMessage message) =>
        entry is { State: DeliveryState.Locked, DeliveryCount: 1, ErrorType: null }
        && message.FirstLeaseToken == entry.Token
        && message.FirstLeasedUntil == entry.LockedUntil;

    private static long RecordBytes(in DeliveryEntry entry, bool withHistories) =>
        200 + 2L * (entry.ErrorType?.Length ?? 0)
        + (withHistories ? 16L * (entry.Attempts?.Count ?? 0) + 2L * (entry.ErrorMessage?.Length ?? 0) : 0);
}
