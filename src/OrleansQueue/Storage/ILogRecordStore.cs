using Orleans.Runtime;
using Orleans.Storage;

namespace OrleansQueue.Storage;

/// <summary>
/// The records of one grain, by name, with optimistic concurrency: what a <see cref="SegmentedLog{TSegment, TEntry}"/>
/// and its owner's cursor are stored in. A write or delete with a stale ETag fails and changes nothing.
/// </summary>
internal interface ILogRecordStore
{
    /// <summary>The record and its ETag; (null, null) when there is none.</summary>
    Task<(T? Record, string? ETag)> ReadAsync<T>(string name)
        where T : class;

    /// <summary>Writes the record over the version <paramref name="etag"/> (null: a record that does not exist yet); returns the new ETag.</summary>
    Task<string?> WriteAsync<T>(string name, T record, string? etag)
        where T : class;

    /// <summary>Deletes the record at version <paramref name="etag"/>.</summary>
    Task DeleteAsync<T>(string name, T record, string? etag)
        where T : class;
}

/// <summary>The records of one grain in an Orleans grain storage provider (a record per state name).</summary>
internal sealed class GrainRecordStore(IGrainStorage storage, string storageName, GrainId grainId) : ILogRecordStore
{
    public async Task<(T? Record, string? ETag)> ReadAsync<T>(string name)
        where T : class
    {
        var state = new GrainState<T>();
        await StorageReadErrors.ReadStateAsync(storage, storageName, name, grainId, state);
        return state.RecordExists && state.State is not null ? (state.State, state.ETag) : (null, null);
    }

    public async Task<string?> WriteAsync<T>(string name, T record, string? etag)
        where T : class
    {
        var state = new GrainState<T>(record, etag);
        await storage.WriteStateAsync(name, grainId, state);
        return state.ETag;
    }

    public Task DeleteAsync<T>(string name, T record, string? etag)
        where T : class =>
        storage.ClearStateAsync(name, grainId, new GrainState<T>(record, etag));
}
