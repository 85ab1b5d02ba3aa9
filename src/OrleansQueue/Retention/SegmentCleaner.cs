using OrleansQueue.Queues;
using MessageLog = OrleansQueue.Storage.SegmentedLog<OrleansQueue.Storage.SegmentState, OrleansQueue.Storage.StoredMessage>;

namespace OrleansQueue.Retention;

/// <summary>
/// Deletes a queue's completed segments once they are past duplicate detection (<see cref="SegmentRetention"/>),
/// oldest first, at most <see cref="MaxDeletesPerPass"/> a pass. A failure is harmless: nothing is recorded for the
/// segment it failed on, and the next pass reads it again.
/// </summary>
internal static class SegmentCleaner
{
    /// <summary>Most segments one pass deletes; the next pass (a timer tick, a completion) goes on.</summary>
    public const int MaxDeletesPerPass = 64;

    /// <summary>
    /// One pass: deletes the deletable segments and records each in <paramref name="core"/>; stops as soon as
    /// <paramref name="current"/> says the queue dropped its state. Returns how many it deleted and what failed, if anything.
    /// </summary>
    public static async Task<(int Deleted, Exception? Failure)> DeleteExpiredAsync(QueueCore core, MessageLog log, TimeProvider time, Func<bool> current)
    {
        var deleted = 0;
        try
        {
            while (deleted < MaxDeletesPerPass && current())
            {
                var now = time.GetUtcNow();
                if (core.DeletableSegments(now).FirstOrDefault(-1) is var id && id < 0)
                {
                    break;
                }

                var gone = await log.DeleteHeadAsync(id, segment =>
                {
                    if (core.GetRetained(id) is null && segment.Messages.Count > 0)
                    {
                        // Not known in memory (purged before it was loaded): decide from what was read.
                        core.AddRetained(new RetainedSegment(id, segment.Messages[^1].Seq, segment.Messages[^1].EnqueuedAt));
                        return core.DeletableSegments(now).Contains(id);
                    }

                    return true;
                });
                if (!current() || !gone)
                {
                    break;
                }

                core.SegmentDeleted(id);
                deleted++;
            }
        }
        catch (Exception ex)
        {
            return (deleted, ex);
        }

        return (deleted, null);
    }
}
