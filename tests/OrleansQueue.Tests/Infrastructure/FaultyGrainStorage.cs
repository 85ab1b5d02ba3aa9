using Orleans.Runtime;
using Orleans.Storage;

namespace OrleansQueue.Tests.Infrastructure;

/// <summary>What a <see cref="FaultyGrainStorage"/> injects; change it while a test runs.</summary>
public sealed class FaultInjector
{
    private readonly Random _random = new(1234);
    private int _before;
    private int _after;

    /// <summary>Probability that a write or clear fails before it reaches storage.</summary>
    public double FailBeforeWrite { get; set; }

    /// <summary>Probability that a write or clear lands in storage and then reports failure (an ambiguous outcome).</summary>
    public double FailAfterWrite { get; set; }

    public int InjectedBefore => Volatile.Read(ref _before);

    public int InjectedAfter => Volatile.Read(ref _after);

    internal bool Roll(double probability, ref int counter)
    {
        if (probability <= 0)
        {
            return false;
        }

        bool hit;
        lock (_random)
        {
            hit = _random.NextDouble() < probability;
        }

        if (hit)
        {
            Interlocked.Increment(ref counter);
        }

        return hit;
    }

    internal bool BeforeWrite() => Roll(FailBeforeWrite, ref _before);

    internal bool AfterWrite() => Roll(FailAfterWrite, ref _after);
}

/// <summary>Wraps a grain storage provider and injects write failures, before or after the write lands.</summary>
public sealed class FaultyGrainStorage(IGrainStorage inner, FaultInjector faults) : IGrainStorage
{
    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        inner.ReadStateAsync(stateName, grainId, grainState);

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        Inject(() => inner.WriteStateAsync(stateName, grainId, grainState));

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        Inject(() => inner.ClearStateAsync(stateName, grainId, grainState));

    private async Task Inject(Func<Task> operation)
    {
        if (faults.BeforeWrite())
        {
            throw new IOException("Injected storage failure before the write.");
        }

        await operation();
        if (faults.AfterWrite())
        {
            throw new IOException("Injected storage failure after the write landed.");
        }
    }
}
