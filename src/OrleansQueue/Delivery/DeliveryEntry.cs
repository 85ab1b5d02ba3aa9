namespace OrleansQueue.Delivery;

/// <summary>The delivery state of one message in the window (or parked): a mutable struct, changed in place by reference.</summary>
internal struct DeliveryEntry
{
    /// <summary>Delivery attempts remembered per message (for the dead-letter entry).</summary>
    public const int MaxAttemptsKept = 10;

    /// <summary>Longest exception type name and message kept per message.</summary>
    public const int MaxErrorLength = 256;

    public DeliveryState State;
    public int DeliveryCount;
    public Guid Token;
    public DateTimeOffset LockedUntil;
    public DateTimeOffset NotBefore;
    public List<DateTimeOffset>? Attempts;
    public string? ErrorType;
    public string? ErrorMessage;

    /// <summary>A move to the dead-letter grain that waits for room among the pending moves (kept in its delivery record).</summary>
    public DeadLetterReason? DeferredMove;
    public string? DeferredDescription;
}
