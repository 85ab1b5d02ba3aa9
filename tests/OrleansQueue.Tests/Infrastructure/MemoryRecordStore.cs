using System.Text.Json;
using OrleansQueue.Storage;

namespace OrleansQueue.Tests.Infrastructure;

/// <summary>Records by name, stored as JSON copies (so later changes to an object do not reach "storage"), with ETags.</summary>
internal sealed class MemoryRecordStore : ILogRecordStore
{
    private readonly Dictionary<string, (string Json, string ETag)> _records = [];
    private int _version;

    public int Writes { get; private set; }

    public int Reads { get; private set; }

    /// <summary>The write (counting from 1) that fails before it lands.</summary>
    public int FailWriteNumber { get; set; }

    /// <summary>Asked before each write with the record's name: true fails that write before it lands.</summary>
    public Func<string, bool>? FailWrite { get; set; }

    public int Deletes { get; private set; }

    /// <summary>The delete (counting from 1) that fails before it lands.</summary>
    public int FailDeleteNumber { get; set; }

    public T? Get<T>(string name) where T : class =>
        _records.TryGetValue(name, out var record) ? JsonSerializer.Deserialize<T>(record.Json) : null;

    public void Put<T>(string name, T record) => _records[name] = (JsonSerializer.Serialize(record), $"{++_version}");

    public Task<(T? Record, string? ETag)> ReadAsync<T>(string name) where T : class
    {
        Reads++;
        return Task.FromResult(_records.TryGetValue(name, out var record) ? (JsonSerializer.Deserialize<T>(record.Json), (string?)record.ETag) : (null, null));
    }

    public Task<string?> WriteAsync<T>(string name, T record, string? etag) where T : class
    {
        if (++Writes == FailWriteNumber || FailWrite?.Invoke(name) == true)
        {
            return Task.FromException<string?>(new IOException("Injected write failure.")); // as an async store fails
        }

        CheckETag(name, etag);
        Put(name, record);
        return Task.FromResult<string?>(_records[name].ETag);
    }

    /// <summary>The records deleted, in order.</summary>
    public List<string> Deleted { get; } = [];

    public Task DeleteAsync<T>(string name, T record, string? etag) where T : class
    {
        if (++Deletes == FailDeleteNumber)
        {
            return Task.FromException(new IOException("Injected delete failure."));
        }

        CheckETag(name, etag);
        _records.Remove(name);
        Deleted.Add(name);
        return Task.CompletedTask;
    }

    private void CheckETag(string name, string? etag)
    {
        var current = _records.TryGetValue(name, out var record) ? record.ETag : null;
        if (current != etag)
        {
            throw new InvalidOperationException($"ETag conflict on {name}: {etag} is not {current}.");
        }
    }

    /// <summary>Whether a record of that name is stored.</summary>
    public bool Has(string name) => _records.ContainsKey(name);

    /// <summary>The names stored.</summary>
    public IEnumerable<string> Names => _records.Keys;
}
