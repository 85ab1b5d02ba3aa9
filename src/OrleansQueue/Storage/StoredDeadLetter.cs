namespace OrleansQueue.Storage;

// What the grain storage provider serializes (JSON by default, or the Orleans serializer). Its name and members are a
// storage format: rename nothing, add members only with defaults.

/// <summary>One entry of the dead-letter grain as stored.</summary>
[GenerateSerializer, Alias("oq.StoredDeadLetter")]
internal sealed class StoredDeadLetter : ILogEntry
{
    [Id(0)] public long EntryId { get; set; }
    [Id(1)] public StoredMessage Message { get; set; } = new();
    [Id(2)] public int DeliveryCount { get; set; }
    [Id(3)] public string SourceQueue { get; set; } = "";
    [Id(4)] public DeadLetterReason Reason { get; set; }
    [Id(5)] public string? Description { get; set; }
    [Id(6)] public string? ErrorType { get; set; }
    [Id(7)] public string? ErrorMessage { get; set; }
    [Id(8)] public List<long> Attempts { get; set; } = [];
    [Id(9)] public DateTimeOffset At { get; set; }
    [Id(10)] public Guid MoveId { get; set; }

    long ILogEntry.LogId => EntryId;
}
