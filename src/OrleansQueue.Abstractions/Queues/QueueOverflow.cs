namespace OrleansQueue;

/// <summary>What a queue at its <see cref="QueueSettings.MaxLength"/> does with a new message (RabbitMQ's <c>x-overflow</c>).</summary>
public enum QueueOverflow
{
    /// <summary>Refuses the send with <see cref="QueueErrorCode.QueueFull"/>; nothing is stored (RabbitMQ's <c>reject-publish</c>).</summary>
    RejectNew = 0,

    /// <summary>Stores it and drops the oldest ready messages to make room (RabbitMQ's <c>drop-head</c>); counted in <see cref="QueueStats.TotalDropped"/>.</summary>
    DropOldest = 1,

    /// <summary>Stores it and moves the oldest ready messages to the dead-letter grain, reason <see cref="DeadLetterReason.MaxLengthExceeded"/>.</summary>
    DeadLetterOldest = 2,
}
