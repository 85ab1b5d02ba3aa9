namespace OrleansQueue;

/// <summary>One page of a dead-letter browse.</summary>
[GenerateSerializer, Immutable, Alias("oq.DeadLetterPage")]
public sealed record DeadLetterPage
{
    /// <summary>The entries, oldest first.</summary>
    [Id(0)] public IReadOnlyList<DeadLetterEntry> Entries { get; init; } = [];

    /// <summary>Pass it to the next call to go on; <see langword="null"/> when there is nothing more.</summary>
    [Id(1)] public long? ContinuationEntryId { get; init; }
}
