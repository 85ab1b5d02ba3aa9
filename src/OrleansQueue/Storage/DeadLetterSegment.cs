namespace OrleansQueue.Storage;

// What the grain storage provider serializes (JSON by default, or the Orleans serializer). Its name and members are a
// storage format: rename nothing, add members only with defaults.

/// <summary>A bounded run of dead-letter entries in id order (deleted entries leave holes): <c>oq-dl-seg-{n}</c>.</summary>
[GenerateSerializer, Alias("oq.DeadLetterSegment")]
internal sealed class DeadLetterSegment : ILogSegment<StoredDeadLetter>
{
    [Id(0)] public long FirstEntryId { get; set; }
    [Id(1)] public List<StoredDeadLetter> Entries { get; set; } = [];
    /// <summary>
    /// The highest entry id this segment ever held, kept when its entries are deleted, so an emptied tail does not
    /// hand its ids out again; 0 in records written before it existed.
    /// </summary>
    [Id(2)] public long LastEntryId { get; set; }

    long ILogSegment<StoredDeadLetter>.FirstId { get => FirstEntryId; set => FirstEntryId = value; }

    long ILogSegment<StoredDeadLetter>.LastAssignedId { get => LastEntryId; set => LastEntryId = value; }
}
