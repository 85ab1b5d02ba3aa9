namespace OrleansQueue;

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
