namespace OrleansQueue;

/// <summary>How long a failed message waits before it is delivered again.</summary>
public enum RedeliveryMode
{
    /// <summary>At once.</summary>
    Immediate = 0,

    /// <summary>After <see cref="RedeliveryPolicy.Delay"/> every time.</summary>
    Fixed = 1,

    /// <summary>After <see cref="RedeliveryPolicy.Delay"/> × 2^(deliveries − 1), capped at <see cref="RedeliveryPolicy.MaxDelay"/>, with jitter.</summary>
    Exponential = 2,
}
