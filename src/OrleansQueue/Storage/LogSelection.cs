namespace OrleansQueue.Storage;

/// <summary>Entries of a <see cref="SegmentedLog{TSegment, TEntry}"/> found together, with the segments (and versions) that hold them.</summary>
internal sealed class LogSelection<TSegment, TEntry>
    where TSegment : class, ILogSegment<TEntry>, new()
    where TEntry : ILogEntry
{
    internal List<SegmentImage<TSegment, TEntry>> Segments { get; } = [];

    internal HashSet<long> Ids { get; } = [];

    /// <summary>The entries found, in id order.</summary>
    public List<TEntry> Entries { get; } = [];
}
