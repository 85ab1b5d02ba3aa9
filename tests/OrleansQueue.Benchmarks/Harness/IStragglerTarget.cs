namespace OrleansQueue.Benchmarks.Harness;

/// <summary>
/// A target on which W5 can leave stragglers: a receiver of its own, apart from the workload's consumer, takes the
/// messages at the head of a queue and keeps them locked, unsettled, while the workload runs beside them.
/// </summary>
public interface IStragglerTarget : IBenchTarget
{
    /// <summary>
    /// Takes the <paramref name="count"/> messages that <paramref name="queue"/> holds in a receiver of its own, locked
    /// for <paramref name="lockDuration"/> where the system has lock durations, and never settles them. Returns once
    /// that receiver holds <paramref name="count"/> messages, or once <paramref name="timeout"/> has passed.
    /// </summary>
    Task<IStragglers> HoldAsync(string queue, int count, TimeSpan lockDuration, TimeSpan timeout);
}
