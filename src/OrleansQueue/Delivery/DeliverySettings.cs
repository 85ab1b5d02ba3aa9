using OrleansQueue.Storage;

namespace OrleansQueue.Delivery;

/// <summary>
/// A queue's delivery settings as stored in its cursor record (<see cref="QueueSettingsState"/>, each unset value
/// falling back to the silo's default), and the public <see cref="QueueSettings"/> they are configured with: lock
/// duration, maximum delivery count, redelivery policy, fail-fast exception types, duplicate-detection window.
/// </summary>
internal sealed class DeliverySettings(QueueSettingsState state, TimeSpan defaultLockDuration, int defaultMaxDeliveryCount, TimeSpan defaultDuplicateDetectionWindow, long defaultMaxLength)
{
    /// <summary>Most fail-fast exception types a queue keeps, and longest name of one.</summary>
    public const int MaxFailFastTypes = 100;

    private const int MaxFailFastTypeLength = 512;

    /// <summary>What the cursor record stores.</summary>
    public QueueSettingsState State { get; set; } = state ?? new QueueSettingsState();

    public TimeSpan LockDuration => State.AckDeadline ?? defaultLockDuration;

    public int MaxDeliveryCount => State.MaxDeliveryCount ?? defaultMaxDeliveryCount;

    public TimeSpan DuplicateDetectionWindow => State.DuplicateDetectionWindow ?? defaultDuplicateDetectionWindow;

    /// <summary>Most messages the queue holds: its own setting, never above the silo's.</summary>
    public long MaxLength => Math.Min(State.MaxLength ?? defaultMaxLength, defaultMaxLength);

    public QueueOverflow Overflow => State.Overflow ?? QueueOverflow.RejectNew;

    /// <summary>Most body bytes the queue holds; 0 for no limit.</summary>
    public long MaxLengthBytes => State.MaxLengthBytes ?? 0;

    /// <summary>The queue's time-to-live for its messages; zero for none.</summary>
    public TimeSpan DefaultMessageTimeToLive => State.DefaultMessageTimeToLive ?? TimeSpan.Zero;

    public bool DeadLetterOnMessageExpiration => State.DeadLetterOnMessageExpiration ?? false;

    /// <summary>
    /// When a message sent at <paramref name="now"/> with its own <paramref name="timeToLive"/> (if any) and
    /// <paramref name="scheduledEnqueueTime"/> (if any) expires: the shorter of its time-to-live and the queue's, from
    /// when it becomes deliverable (its scheduled time, however late it joins the queue); null for never.
    /// </summary>
    public DateTimeOffset? ExpiresAt(TimeSpan? timeToLive, DateTimeOffset? scheduledEnqueueTime, DateTimeOffset now)
    {
        var queue = DefaultMessageTimeToLive;
        TimeSpan? ttl = (timeToLive, queue > TimeSpan.Zero) switch
        {
            ({ } own, true) => own < queue ? own : queue,
            ({ } own, false) => own,
            (null, true) => queue,
            _ => null,
        };
        if (ttl is not { } span)
        {
            return null;
        }

        var from = scheduledEnqueueTime ?? now; // a send in the past has none; a scheduled message joining the queue keeps its own
        return DateTimeOffset.MaxValue - from < span ? DateTimeOffset.MaxValue : from + span;
    }

    public RedeliveryPolicy Redelivery => State.RedeliveryMode is { } mode
        ? new RedeliveryPolicy
        {
            Mode = mode,
            Delay = State.RedeliveryDelay ?? TimeSpan.Zero,
            MaxDelay = State.RedeliveryMaxDelay ?? State.RedeliveryDelay ?? TimeSpan.Zero,
            Jitter = State.RedeliveryJitter ?? 0.2,
        }
        : RedeliveryPolicy.Immediate;

    /// <summary>Whether a handler exception of this type dead-letters at once.</summary>
    public bool IsFailFast(string? exceptionType) =>
        exceptionType is not null && State.FailFastExceptionTypes?.Contains(exceptionType) == true;

    /// <summary>The settings as a caller sees them, defaults filled in.</summary>
    public QueueSettings ToPublic() => new()
    {
        LockDuration = LockDuration,
        MaxDeliveryCount = MaxDeliveryCount,
        Redelivery = Redelivery,
        FailFastExceptionTypes = State.FailFastExceptionTypes?.ToArray() ?? [],
        DuplicateDetectionWindow = DuplicateDetectionWindow,
        MaxLength = MaxLength,
        Overflow = Overflow,
        MaxLengthBytes = MaxLengthBytes,
        DefaultMessageTimeToLive = DefaultMessageTimeToLive,
        DeadLetterOnMessageExpiration = DeadLetterOnMessageExpiration,
    };

    /// <summary>Throws <see cref="QueueException"/> for a setting out of range; <paramref name="maxLockDuration"/> and <paramref name="maxLength"/> are the silo's.</summary>
    public static void Validate(QueueSettings settings, TimeSpan maxLockDuration, long maxLength)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (settings.LockDuration is { } duration)
        {
            QueueLimits.ValidateLockDuration(duration, maxLockDuration);
        }

        if (settings.MaxDeliveryCount is { } max)
        {
            QueueLimits.ValidateCount(max, 1000, nameof(settings.MaxDeliveryCount));
        }

        settings.Redelivery?.Validate();
        if (settings.FailFastExceptionTypes is { } types
            && (types.Count > MaxFailFastTypes || types.Any(t => string.IsNullOrWhiteSpace(t) || t.Length > MaxFailFastTypeLength)))
        {
            throw new QueueException(QueueErrorCode.InvalidArgument, "FailFastExceptionTypes takes at most 100 full type names of at most 512 characters.");
        }

        if (settings.DuplicateDetectionWindow is { } window
            && window != TimeSpan.Zero && (window < TimeSpan.FromSeconds(1) || window > QueueLimits.MaxDuplicateDetectionWindow))
        {
            throw new QueueException(QueueErrorCode.InvalidArgument,
                $"DuplicateDetectionWindow must be zero (off) or between 1 second and {QueueLimits.MaxDuplicateDetectionWindow.TotalDays:N0} days, not {window}.");
        }

        if (settings.MaxLength is { } length && (length < 1 || length > maxLength))
        {
            throw new QueueException(QueueErrorCode.InvalidArgument, $"MaxLength must be between 1 and the silo's MaxQueueLength ({maxLength:N0}), not {length}.");
        }

        if (settings.MaxLengthBytes is < 0)
        {
            throw new QueueException(QueueErrorCode.InvalidArgument, $"MaxLengthBytes must be 0 (no limit) or more, not {settings.MaxLengthBytes}.");
        }

        if (settings.DefaultMessageTimeToLive is { } ttl && ttl != TimeSpan.Zero)
        {
            QueueLimits.ValidateTimeToLive(ttl, "DefaultMessageTimeToLive (or zero, for none)");
        }

        if (settings.Overflow is { } overflow && !Enum.IsDefined(overflow))
        {
            throw new QueueException(QueueErrorCode.InvalidArgument, $"Overflow {(int)overflow} is not a QueueOverflow value.");
        }
    }

    /// <summary>What a queue created with <paramref name="settings"/> stores: every setting, the silo's defaults where it sets none, fixed.</summary>
    public QueueSettingsState ResolveFixed(QueueSettings settings)
    {
        var given = new DeliverySettings(new QueueSettingsState(), defaultLockDuration, defaultMaxDeliveryCount, defaultDuplicateDetectionWindow, defaultMaxLength);
        given.State = given.Merge(settings);
        var state = new DeliverySettings(new QueueSettingsState(), defaultLockDuration, defaultMaxDeliveryCount, defaultDuplicateDetectionWindow, defaultMaxLength)
            .Merge(given.ToPublic());
        state.Fixed = true;
        return state;
    }

    /// <summary>Whether the stored settings are created with fixed settings.</summary>
    public bool IsFixed => State.Fixed == true;

    /// <summary>What to store after <paramref name="settings"/> is configured: what it sets, the rest as it was.</summary>
    public QueueSettingsState Merge(QueueSettings settings) => new()
    {
        AckDeadline = settings.LockDuration ?? State.AckDeadline,
        MaxDeliveryCount = settings.MaxDeliveryCount ?? State.MaxDeliveryCount,
        RedeliveryMode = settings.Redelivery is { } policy ? policy.Mode : State.RedeliveryMode,
        RedeliveryDelay = settings.Redelivery is { } p1 ? p1.Delay : State.RedeliveryDelay,
        RedeliveryMaxDelay = settings.Redelivery is { } p2 ? p2.MaxDelay : State.RedeliveryMaxDelay,
        RedeliveryJitter = settings.Redelivery is { } p3 ? p3.Jitter : State.RedeliveryJitter,
        FailFastExceptionTypes = settings.FailFastExceptionTypes?.ToList() ?? State.FailFastExceptionTypes,
        DuplicateDetectionWindow = settings.DuplicateDetectionWindow ?? State.DuplicateDetectionWindow,
        MaxLength = settings.MaxLength ?? State.MaxLength,
        Overflow = settings.Overflow ?? State.Overflow,
        MaxLengthBytes = settings.MaxLengthBytes ?? State.MaxLengthBytes,
        DefaultMessageTimeToLive = settings.DefaultMessageTimeToLive ?? State.DefaultMessageTimeToLive,
        DeadLetterOnMessageExpiration = settings.DeadLetterOnMessageExpiration ?? State.DeadLetterOnMessageExpiration,
    };
}
