using System.Collections.Concurrent;
using Orleans.Runtime;
using Orleans.Storage;

namespace OrleansQueue.Tests.Infrastructure;

/// <summary>
/// Wraps a grain storage provider and counts the writes and clears that reach it. <see cref="WriteLatency"/> makes
/// every write take at least that long, as a real store does, so tests about write coalescing do not depend on how
/// the thread pool happens to interleave calls against an instant in-memory store.
/// </summary>
public sealed class CountingGrainStorage(IGrainStorage inner) : IGrainStorage
{
    private readonly ConcurrentDictionary<(GrainId, string), int> _writesByRecord = new();
    private readonly ConcurrentDictionary<GrainId, int> _clearsByGrain = new();
    private int _writes;
    private int _clears;

    public int Writes => Volatile.Read(ref _writes);

    public int Clears => Volatile.Read(ref _clears);

    public TimeSpan WriteLatency { get; set; }

    /// <summary>The writes to one record: state <paramref name="stateName"/> of grain <paramref name="grainId"/>.</summary>
    public int WritesTo(GrainId grainId, string stateName) => _writesByRecord.GetValueOrDefault((grainId, stateName));

    /// <summary>The writes to every record of one grain.</summary>
    public int WritesBy(GrainId grainId) => _writesByRecord.Where(w => w.Key.Item1 == grainId).Sum(w => w.Value);

    /// <summary>The clears of every record of one grain.</summary>
    public int ClearsBy(GrainId grainId) => _clearsByGrain.GetValueOrDefault(grainId);

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        inner.ReadStateAsync(stateName, grainId, grainState);

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        Interlocked.Increment(ref _writes);
        _writesByRecord.AddOrUpdate((grainId, stateName), 1, static (_, n) => n + 1);
        if (WriteLatency > TimeSpan.Zero)
        {
            await Task.Delay(WriteLatency);
        }

        await inner.WriteStateAsync(stateName, grainId, grainState);
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        Interlocked.Increment(ref _clears);
        _clearsByGrain.AddOrUpdate(grainId, 1, static (_, n) => n + 1);
        return inner.ClearStateAsync(stateName, grainId, grainState);
    }
}
