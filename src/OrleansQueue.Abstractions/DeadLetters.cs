namespace OrleansQueue;

/// <summary>A message in the dead-letter grain, with why and how it failed.</summary>
[GenerateSerializer, Immutable, Alias("oq.DeadLetterEntry")]
public sealed record DeadLetterEntry
{
    /// <summary>Position in the dead-letter grain; identifies the entry for delete.</summary>
    [Id(0)] public long EntryId { get; init; }

    /// <summary>The original message (its delivery count is the number of deliveries it had).</summary>
    [Id(1)] public required QueueMessage Message { get; init; }

    /// <summary>The queue it came from.</summary>
    [Id(2)] public required string SourceQueue { get; init; }

    /// <summary>Why it was dead-lettered.</summary>
    [Id(3)] public DeadLetterReason Reason { get; init; }

    /// <summary>What the consumer or the queue said about it.</summary>
    [Id(4)] public string? Description { get; init; }

    /// <summary>The short reason a consumer gave when it dead-lettered the message (<see cref="QueueClient.DeadLetterAsync(Guid, string?, string?, CancellationToken)"/>); null otherwise.</summary>
    [Id(9)] public string? ConsumerReason { get; init; }

    /// <summary>Full type name of the last exception a handler threw, if any.</summary>
    [Id(5)] public string? LastExceptionType { get; init; }

    /// <summary>Message of that exception (at most 1,024 characters).</summary>
    [Id(6)] public string? LastExceptionMessage { get; init; }

    /// <summary>When each delivery attempt started (the most recent ones, at most 32).</summary>
    [Id(7)] public IReadOnlyList<DateTimeOffset> Attempts { get; init; } = [];

    /// <summary>When it was dead-lettered.</summary>
    [Id(8)] public DateTimeOffset DeadLetteredAt { get; init; }
}

/// <summary>Which dead-letter entries an operation applies to; every member that is set must match.</summary>
[GenerateSerializer, Immutable, Alias("oq.DeadLetterFilter")]
public sealed record DeadLetterFilter
{
    /// <summary>Everything.</summary>
    public static DeadLetterFilter All { get; } = new();

    /// <summary>Entries from this queue.</summary>
    [Id(0)] public string? SourceQueue { get; init; }

    /// <summary>Entries dead-lettered for this reason.</summary>
    [Id(1)] public DeadLetterReason? Reason { get; init; }

    /// <summary>Dead-lettered at or after this time.</summary>
    [Id(2)] public DateTimeOffset? From { get; init; }

    /// <summary>Dead-lettered before this time.</summary>
    [Id(3)] public DateTimeOffset? Until { get; init; }

    /// <summary>Whether the entry matches every member that is set.</summary>
    public bool Matches(DeadLetterEntry entry) =>
        (SourceQueue is null || entry.SourceQueue == SourceQueue)
        && (Reason is null || entry.Reason == Reason)
        && (From is null || entry.DeadLetteredAt >= From)
        && (Until is null || entry.DeadLetteredAt < Until);
}

/// <summary>One page of a dead-letter browse.</summary>
[GenerateSerializer, Immutable, Alias("oq.DeadLetterPage")]
public sealed record DeadLetterPage
{
    /// <summary>The entries, oldest first.</summary>
    [Id(0)] public IReadOnlyList<DeadLetterEntry> Entries { get; init; } = [];

    /// <summary>Pass it to the next call to go on; <see langword="null"/> when there is nothing more.</summary>
    [Id(1)] public long? ContinuationEntryId { get; init; }
}

/// <summary>Counts of the dead-letter grain.</summary>
[GenerateSerializer, Immutable, Alias("oq.DeadLetterStats")]
public sealed record DeadLetterStats
{
    /// <summary>Entries in all.</summary>
    [Id(0)] public long Count { get; init; }

    /// <summary>Entries per reason.</summary>
    [Id(1)] public IReadOnlyDictionary<DeadLetterReason, long> CountByReason { get; init; } = new Dictionary<DeadLetterReason, long>();

    /// <summary>Entries per source queue.</summary>
    [Id(2)] public IReadOnlyDictionary<string, long> CountBySourceQueue { get; init; } = new Dictionary<string, long>();
}

/// <summary>
/// The entries a paged purge or redrive still has to look at: ids from <see cref="FromEntryId"/> up to (not including)
/// <see cref="UntilEntryId"/>. Start with <c>new DeadLetterRange()</c>; each call returns the range to pass next.
/// </summary>
[GenerateSerializer, Immutable, Alias("oq.DeadLetterRange")]
public sealed record DeadLetterRange
{
    /// <summary>The first entry id still to look at.</summary>
    [Id(0)] public long FromEntryId { get; init; }

    /// <summary>
    /// The end of the range, fixed by the first call (null there) at the id the next new entry was to get then: a
    /// purge or redrive covers the entries that existed when it started, not those dead-lettered while it runs (a
    /// redriven message that fails again, say).
    /// </summary>
    [Id(1)] public long? UntilEntryId { get; init; }
}

/// <summary>The outcome of one redrive call.</summary>
[GenerateSerializer, Immutable, Alias("oq.RedriveResult")]
public sealed record RedriveResult
{
    /// <summary>Entries sent back and removed from the dead-letter grain.</summary>
    [Id(0)] public int Redriven { get; init; }

    /// <summary>Whether matching entries may remain after this call (call again to go on).</summary>
    [Id(1)] public bool More { get; init; }

    /// <summary>For a paged redrive: the range to pass to the next call; null when every entry of it has been looked at.</summary>
    [Id(2)] public DeadLetterRange? Next { get; init; }
}

/// <summary>The outcome of one page of a purge.</summary>
[GenerateSerializer, Immutable, Alias("oq.PurgeResult")]
public sealed record PurgeResult
{
    /// <summary>Entries deleted by this call.</summary>
    [Id(0)] public int Purged { get; init; }

    /// <summary>The range to pass to the next call; null when every entry of it has been looked at.</summary>
    [Id(1)] public DeadLetterRange? Next { get; init; }
}

/// <summary>
/// The cluster-wide dead-letter grain (key 0): where messages go after too many failed deliveries, a consumer's
/// rejection, or a fail-fast exception. Entries can be browsed, counted, sent back (redriven) and deleted.
/// Prefer <see cref="DeadLetterClient"/> from <see cref="GrainFactoryQueueExtensions.GetDeadLetters"/>.
/// </summary>
[Alias("oq.IDeadLetterGrain")]
public interface IDeadLetterGrain : IGrainWithIntegerKey
{
    /// <summary>Browses entries matching <paramref name="filter"/>, oldest first, from <paramref name="fromEntryId"/> on; a cancelled browse stops reading.</summary>
    [Alias("Browse")]
    Task<DeadLetterPage> Browse(DeadLetterFilter filter, int pageSize, long fromEntryId, CancellationToken cancellationToken = default);

    /// <summary>Counts of entries, in all, per reason and per source queue.</summary>
    [Alias("GetStats")]
    Task<DeadLetterStats> GetStats();

    /// <summary>
    /// One page of a redrive: sends up to <paramref name="maxMessages"/> matching entries of <paramref name="range"/> back
    /// to their source queue (or to <paramref name="targetQueue"/>), keeping each message id, with a fresh delivery count,
    /// and removes them here once the target confirms; reads a bounded number of segments and returns the range to go on with
    /// (<see cref="RedriveResult.Next"/>). Messages go to the target queue in batches within its batch limits.
    /// </summary>
    [Alias("RedriveRange")]
    Task<RedriveResult> Redrive(DeadLetterFilter filter, string? targetQueue, int maxMessages, DeadLetterRange range);

    /// <summary>Deletes the entries with these ids; returns how many existed.</summary>
    [Alias("Delete")]
    Task<int> Delete(long[] entryIds);

    /// <summary>
    /// One page of a purge: deletes the matching entries of <paramref name="range"/> that a bounded number of segments
    /// hold (at most 1,000); returns how many and the range to go on with (<see cref="PurgeResult.Next"/>).
    /// </summary>
    [Alias("PurgeRange")]
    Task<PurgeResult> Purge(DeadLetterFilter filter, DeadLetterRange range);
}
