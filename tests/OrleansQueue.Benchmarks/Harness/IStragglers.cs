namespace OrleansQueue.Benchmarks.Harness;

/// <summary>The messages one receiver holds locked and unsettled (<see cref="IStragglerTarget.HoldAsync"/>); disposing it closes that receiver.</summary>
public interface IStragglers : IAsyncDisposable
{
    /// <summary>The receiver, for the row's note: "a second channel with prefetch 1,000 and no acks".</summary>
    string Receiver { get; }

    /// <summary>The messages the receiver got and holds.</summary>
    int Held { get; }

    /// <summary>The messages the queue reported ready once they were held: 0 when the receiver took every message it had.</summary>
    long ReadyBeside { get; }

    /// <summary>
    /// Settles every held message (completes or acknowledges it), which succeeds only while the receiver still holds
    /// them all; returns null, or what went wrong.
    /// </summary>
    Task<string?> SettleAsync();
}
