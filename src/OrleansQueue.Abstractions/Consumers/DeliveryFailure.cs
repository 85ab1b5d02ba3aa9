namespace OrleansQueue;

/// <summary>A delivery of a batch that its handler failed.</summary>
[GenerateSerializer, Immutable, Alias("oq.DeliveryFailure")]
public sealed record DeliveryFailure
{
    /// <summary>The failed delivery's lock token.</summary>
    [Id(0)] public required Guid LockToken { get; init; }

    /// <summary>The full name of the exception type (matched in full against the queue's fail-fast types; its first 256 characters are kept).</summary>
    [Id(1)] public required string ExceptionType { get; init; }

    /// <summary>The exception's message, kept (its first 256 characters) with the message's delivery history.</summary>
    [Id(2)] public string? Message { get; init; }

    /// <summary>The failure of <paramref name="delivery"/> by <paramref name="exception"/>.</summary>
    public static DeliveryFailure From(QueueDelivery delivery, Exception exception) => new()
    {
        LockToken = (delivery ?? throw new ArgumentNullException(nameof(delivery))).LockToken,
        ExceptionType = (exception ?? throw new ArgumentNullException(nameof(exception))).GetType().FullName ?? exception.GetType().Name,
        Message = exception.Message,
    };
}
