namespace OrleansQueue;

/// <summary>The outcome of one page of a purge.</summary>
[GenerateSerializer, Immutable, Alias("oq.PurgeResult")]
public sealed record PurgeResult
{
    /// <summary>Entries deleted by this call.</summary>
    [Id(0)] public int Purged { get; init; }

    /// <summary>The range to pass to the next call; null when every entry of it has been looked at.</summary>
    [Id(1)] public DeadLetterRange? Next { get; init; }
}
