using OrleansQueue.Delivery;
using OrleansQueue.Storage;

namespace OrleansQueue.DeadLetters;

/// <summary>
/// A dead-letter entry as the dead-letter grain stores it (<see cref="StoredDeadLetter"/>, texts cut to their bounds)
/// and as callers get it back, and its estimated stored size.
/// </summary>
internal static class DeadLetterRecords
{
    public static long EstimateBytes(StoredDeadLetter entry) =>
        SegmentSizing.EstimateBytes(entry.Message) + 512 + 2L * ((entry.Description?.Length ?? 0) + (entry.ErrorType?.Length ?? 0) + (entry.ErrorMessage?.Length ?? 0)) + 16L * entry.Attempts.Count;

    public static StoredDeadLetter ToStored(DeadLetterEntry entry, long entryId, Guid moveId, DateTimeOffset now) => new()
    {
        EntryId = entryId,
        Message = MessageViews.ToStoredMessage(entry.Message),
        DeliveryCount = entry.Message.DeliveryCount,
        SourceQueue = entry.SourceQueue,
        Reason = entry.Reason,
        Description = DeadLetterNote.Encode(entry.ConsumerReason, entry.Description, 1024),
        ErrorType = Truncate(entry.LastExceptionType, 512),
        ErrorMessage = Truncate(entry.LastExceptionMessage, 1024),
        Attempts = entry.Attempts.TakeLast(DeliveryEntry.MaxAttemptsKept).Select(a => a.ToUnixTimeMilliseconds()).ToList(),
        At = entry.DeadLetteredAt == default ? now : entry.DeadLetteredAt,
        MoveId = moveId,
    };

    public static DeadLetterEntry ToEntry(StoredDeadLetter stored, bool withBody = true)
    {
        var (consumerReason, description) = DeadLetterNote.Decode(stored.Description);
        return new()
        {
            EntryId = stored.EntryId,
            Message = MessageViews.ToQueueMessage(withBody ? stored.Message : new StoredMessage { Id = stored.Message.Id, Seq = stored.Message.Seq }, stored.DeliveryCount),
            SourceQueue = stored.SourceQueue,
            Reason = stored.Reason,
            ConsumerReason = consumerReason,
            Description = description,
            LastExceptionType = stored.ErrorType,
            LastExceptionMessage = stored.ErrorMessage,
            Attempts = stored.Attempts.Select(DateTimeOffset.FromUnixTimeMilliseconds).ToArray(),
            DeadLetteredAt = stored.At,
        };
    }

    private static string? Truncate(string? value, int max) => value is { Length: > 0 } && value.Length > max ? value[..max] : value;
}
