namespace OrleansQueue.Appending;

/// <summary>A message waiting for a group commit, with the id it will be stored under.</summary>
internal readonly record struct PendingMessage(OutgoingMessage Message, string MessageId, long EstimatedBytes, string? DedupKey = null, string? TraceParent = null)
{
    /// <summary>The duplicate-detection key (<see cref="DuplicateIndex.Hash"/>), computed once per send.</summary>
    public UInt128 Key { get; } = DuplicateIndex.Hash(DedupKey ?? MessageId);
}
