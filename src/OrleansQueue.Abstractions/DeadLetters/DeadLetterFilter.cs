namespace OrleansQueue;

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
