namespace OrleansQueue;

/// <summary>
/// The cluster-wide dead-letter grain (key 0): where messages go after too many failed deliveries, a consumer's
/// rejection, or a fail-fast exception. Entries can be browsed, counted, sent back (redriven) and deleted.
/// Prefer the <c>DeadLetterClient</c> from <c>grainFactory.GetDeadLetters()</c> (OrleansQueue.Client).
/// </summary>
[Alias("oq.IDeadLetterGrain")]
public interface IDeadLetterGrain : IGrainWithIntegerKey
{
    /// <summary>
    /// Browses up to <paramref name="pageSize"/> (1 to 1,000) entries matching <paramref name="filter"/>, oldest first, from
    /// <paramref name="fromEntryId"/> on, reading a bounded number of segments: a page may be short, even empty, while
    /// <see cref="DeadLetterPage.ContinuationEntryId"/> says more may follow. A cancelled browse stops reading.
    /// </summary>
    [Alias("Browse")]
    Task<DeadLetterPage> Browse(DeadLetterFilter filter, int pageSize, long fromEntryId, CancellationToken cancellationToken = default);

    /// <summary>Counts of entries, in all, per reason and per source queue.</summary>
    [Alias("GetStats")]
    Task<DeadLetterStats> GetStats();

    /// <summary>
    /// One page of a redrive: sends up to <paramref name="maxMessages"/> (1 to 1,000) matching entries of <paramref name="range"/> back
    /// to their source queue (or to <paramref name="targetQueue"/>), keeping each message id, with a fresh delivery count,
    /// and removes them here once the target confirms; reads a bounded number of segments and returns the range to go on with
    /// (<see cref="RedriveResult.Next"/>). Messages go to the target queue in batches within its batch limits.
    /// </summary>
    [Alias("RedriveRange")]
    Task<RedriveResult> Redrive(DeadLetterFilter filter, string? targetQueue, int maxMessages, DeadLetterRange range);

    /// <summary>Deletes the entries with these ids (1 to 1,000 of them); returns how many existed.</summary>
    [Alias("Delete")]
    Task<int> Delete(long[] entryIds);

    /// <summary>
    /// One page of a purge: deletes the matching entries of <paramref name="range"/> that a bounded number of segments
    /// hold (at most 1,000); returns how many and the range to go on with (<see cref="PurgeResult.Next"/>).
    /// </summary>
    [Alias("PurgeRange")]
    Task<PurgeResult> Purge(DeadLetterFilter filter, DeadLetterRange range);
}
