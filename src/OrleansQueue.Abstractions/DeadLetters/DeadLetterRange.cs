namespace OrleansQueue;

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
