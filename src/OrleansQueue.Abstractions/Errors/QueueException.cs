namespace OrleansQueue;

/// <summary>
/// A queue operation was refused; <see cref="Code"/> says why. Nothing was stored and nothing else changed, except
/// with <see cref="QueueErrorCode.StorageFailed"/>, whose outcome is unknown.
/// </summary>
[GenerateSerializer, Alias("oq.QueueException")]
public sealed class QueueException : Exception
{
    /// <summary>Creates the exception.</summary>
    public QueueException(QueueErrorCode code, string message) : base(message) => Code = code;

    /// <summary>Creates the exception for a lost lock.</summary>
    public QueueException(QueueErrorCode code, string message, IReadOnlyList<Guid> lockTokens) : this(code, message) =>
        LockTokens = lockTokens;

    /// <summary>Why the operation was refused.</summary>
    [Id(0)] public QueueErrorCode Code { get; private set; }

    /// <summary>For <see cref="QueueErrorCode.MessageLockLost"/>: the tokens that are no longer valid.</summary>
    [Id(1)] public IReadOnlyList<Guid> LockTokens { get; private set; } = [];

    /// <summary>
    /// Whether the same call may succeed later: storage failed (<see cref="QueueErrorCode.StorageFailed"/>) or was
    /// busy (<see cref="QueueErrorCode.ServerBusy"/>). Sends are safe to repeat with the same message ids. Every other
    /// code fails again until the input or the state changes. See <see cref="QueueErrors.IsTransient"/> for any exception.
    /// </summary>
    public bool IsTransient => Code is QueueErrorCode.StorageFailed or QueueErrorCode.ServerBusy;
}
