namespace OrleansQueue;

/// <summary>
/// The redelivery policy of a queue: applied when a delivery fails (the handler throws or runs past
/// <see cref="ConsumerOptions.MaxAutoLockRenewalDuration"/>, the receiver abandons, or the lock runs out).
/// </summary>
[GenerateSerializer, Immutable, Alias("oq.RedeliveryPolicy")]
public sealed record RedeliveryPolicy
{
    /// <summary>Redeliver at once (the default).</summary>
    public static RedeliveryPolicy Immediate { get; } = new();

    /// <summary>Immediate, fixed delay or exponential backoff.</summary>
    [Id(0)] public RedeliveryMode Mode { get; init; }

    /// <summary>The fixed delay, or the first delay of exponential backoff.</summary>
    [Id(1)] public TimeSpan Delay { get; init; }

    /// <summary>The cap of exponential backoff.</summary>
    [Id(2)] public TimeSpan MaxDelay { get; init; }

    /// <summary>Exponential backoff varies each delay by up to this fraction either way (0 to 1). Default 0.2.</summary>
    [Id(3)] public double Jitter { get; init; } = 0.2;

    /// <summary>Redeliver after the same delay every time.</summary>
    public static RedeliveryPolicy Fixed(TimeSpan delay) => new() { Mode = RedeliveryMode.Fixed, Delay = delay, MaxDelay = delay };

    /// <summary>Redeliver after <paramref name="initial"/>, doubling per delivery up to <paramref name="max"/>, with jitter.</summary>
    public static RedeliveryPolicy Exponential(TimeSpan initial, TimeSpan max, double jitter = 0.2) =>
        new() { Mode = RedeliveryMode.Exponential, Delay = initial, MaxDelay = max, Jitter = jitter };

    /// <summary>The delay before delivery number <paramref name="deliveryCount"/> + 1; <paramref name="random"/> is a number in [0, 1).</summary>
    public TimeSpan DelayAfter(int deliveryCount, double random)
    {
        switch (Mode)
        {
            case RedeliveryMode.Fixed:
                return Delay;
            case RedeliveryMode.Exponential:
                var exponent = Math.Clamp(deliveryCount - 1, 0, 30);
                var baseTicks = Math.Min((double)Delay.Ticks * Math.Pow(2, exponent), MaxDelay.Ticks);
                var factor = 1 + Jitter * (2 * random - 1);
                return TimeSpan.FromTicks((long)Math.Clamp(baseTicks * factor, 0, MaxDelay.Ticks));
            default:
                return TimeSpan.Zero;
        }
    }

    /// <summary>
    /// Throws <see cref="QueueException"/> (<see cref="QueueErrorCode.InvalidArgument"/>) unless the mode is defined, the
    /// delays are between 0 and 12 hours with <see cref="MaxDelay"/> at least <see cref="Delay"/>, and the jitter is
    /// between 0 and 1.
    /// </summary>
    public void Validate()
    {
        if (!Enum.IsDefined(Mode) || Delay < TimeSpan.Zero || MaxDelay < Delay || MaxDelay > QueueLimits.MaxLockDuration || Jitter is < 0 or > 1 || double.IsNaN(Jitter))
        {
            throw new QueueException(QueueErrorCode.InvalidArgument,
                $"The redelivery policy is invalid: delays must be 0 to 12 h with MaxDelay >= Delay, jitter 0 to 1 (got {this}).");
        }
    }
}
