namespace OrleansQueue;

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
