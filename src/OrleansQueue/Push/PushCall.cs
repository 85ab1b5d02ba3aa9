using OrleansQueue.Delivery;

namespace OrleansQueue.Push;

/// <summary>One running call to a consumer: its locked messages and when it started.</summary>
internal sealed class PushCall(Lease[] leases, DateTimeOffset startedAt)
{
    public Lease[] Leases { get; } = leases;
    public DateTimeOffset StartedAt { get; } = startedAt;

    /// <summary>Ran past the subscription's MaxAutoLockRenewalDuration: its deliveries failed, its result is ignored.</summary>
    public bool TimedOut { get; set; }
}
