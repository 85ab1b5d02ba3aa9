namespace OrleansQueue.Delivery;

/// <summary>One in-flight page as this activation knows it; <see cref="Version"/> counts its changes.</summary>
internal sealed class InFlightPage(long id)
{
    public long Id { get; } = id;
    public SortedSet<long> Seqs { get; } = [];
    public long Bytes { get; set; }
    public string? ETag { get; set; }
    public long Version { get; set; }
    public long WrittenVersion { get; set; }
    public bool Dirty => Version != WrittenVersion;
}
