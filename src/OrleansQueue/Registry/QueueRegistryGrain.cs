using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Storage;
using OrleansQueue.Diagnostics;
using OrleansQueue.Options;
using OrleansQueue.Storage;

namespace OrleansQueue.Registry;

/// <summary>
/// One shard of the queue registry: the durable list of the cluster's queues, spread over
/// <see cref="QueueRegistry.Shards"/> grains by a stable hash of the queue name. Today it lists the queues with push
/// subscribers (a queue lists itself before its first subscription is stored and is removed after its last one is
/// gone), so that a silo that starts, or sees another die, can wake every queue whose pushes stopped with it. Its
/// entries are records with room for more: queues created explicitly and their partitions can be listed here too.
/// </summary>
[Alias("oq.IQueueRegistryShard")]
internal interface IQueueRegistryShard : IGrainWithIntegerKey
{
    /// <summary>Lists <paramref name="queue"/> as having push subscribers, or removes it when it has none.</summary>
    [Alias("Set")]
    Task Set(string queue, bool hasSubscribers);

    /// <summary>The queues of this shard that have push subscribers.</summary>
    [Alias("QueuesWithSubscribers")]
    Task<string[]> QueuesWithSubscribers();
}

/// <summary>Where a queue is listed: the shard of its name.</summary>
internal static class QueueRegistry
{
    /// <summary>Registry shards. Never change it once a cluster stored data: the shard of each listed queue follows from it.</summary>
    public const int Shards = 64;

    /// <summary>
    /// Most queues one shard lists: its record stays under 600 KiB with names of the longest length, in either
    /// encoding (Azure Table's limit for one entity is about 1 MiB).
    /// </summary>
    public const int MaxQueuesPerShard = 2500;

    /// <summary>Most queues the registry lists.</summary>
    public const int MaxQueues = Shards * MaxQueuesPerShard;

    /// <summary>The shard of <paramref name="queue"/>: FNV-1a of its characters, stable across processes and versions.</summary>
    public static int ShardOf(string queue)
    {
        var hash = 2166136261u;
        foreach (var c in queue)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return (int)(hash % Shards);
    }

    public static IQueueRegistryShard ShardFor(this IGrainFactory grains, string queue) =>
        grains.GetGrain<IQueueRegistryShard>(ShardOf(queue));
}

/// <summary>A registry shard. Any failed storage call drops the in-memory state: the next call reads it again.</summary>
[GrainType(GrainTypes.QueueRegistry)]
internal sealed partial class QueueRegistryGrain : Grain, IQueueRegistryShard
{
    private readonly OrleansQueueOptions _options;
    private readonly IGrainStorage _storage;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private ILogRecordStore _store = null!;
    private QueueRegistryState? _state;
    private string? _etag;

    public QueueRegistryGrain(
        IOptions<OrleansQueueOptions> options,
        [FromKeyedServices(TimeProviderNames.Grains)] TimeProvider time,
        IServiceProvider services,
        ILogger<QueueRegistryGrain> logger)
    {
        _options = options.Value;
        _storage = services.GetRequiredKeyedService<IGrainStorage>(_options.StorageName);
        _time = time;
        _logger = logger;
    }

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _store = new GrainRecordStore(_storage, _options.StorageName, this.GetGrainId());
        return Task.CompletedTask;
    }

    public async Task Set(string queue, bool hasSubscribers)
    {
        QueueLimits.ValidateQueueName(queue);
        if (QueueRegistry.ShardOf(queue) != this.GetPrimaryKeyLong())
        {
            throw new QueueException(QueueErrorCode.InvalidArgument, $"Queue '{queue}' is not listed in registry shard {this.GetPrimaryKeyLong()}.");
        }

        var state = await LoadAsync();
        var listed = state.Queues.GetValueOrDefault(queue);
        if ((listed?.HasSubscribers ?? false) == hasSubscribers)
        {
            return;
        }

        if (listed is null && state.Queues.Count >= QueueRegistry.MaxQueuesPerShard)
        {
            throw new QueueException(QueueErrorCode.QuotaExceeded,
                $"Queue '{queue}' cannot take push subscribers: the cluster's queue registry is full ({QueueRegistry.MaxQueuesPerShard:N0} " +
                $"queues with subscribers in its shard {this.GetPrimaryKeyLong()}, about {QueueRegistry.MaxQueues:N0} in all).");
        }

        // The change goes to a copy: a failed write leaves the state as stored.
        var next = new QueueRegistryState { Queues = new Dictionary<string, QueueRegistration>(state.Queues, StringComparer.Ordinal) };
        if (hasSubscribers)
        {
            next.Queues[queue] = new QueueRegistration { ListedAt = listed?.ListedAt ?? _time.GetUtcNow(), HasSubscribers = true };
        }
        else
        {
            next.Queues.Remove(queue); // nothing else keeps an entry yet
        }

        try
        {
            _etag = await _store.WriteAsync(StateNames.Registry, next, _etag);
        }
        catch (Exception ex)
        {
            _state = null; // an ETag conflict or a lost write: read again and decide again on the next call
            LogStorageFailed(ex, this.GetPrimaryKeyLong(), queue);
            throw new QueueException(QueueErrorCode.StorageFailed,
                $"Listing queue '{queue}' in the queue registry failed ({ex.GetType().Name}: {ex.Message}); nothing changed, retry.");
        }

        _state = next;
        LogListed(queue, hasSubscribers, this.GetPrimaryKeyLong());
    }

    public async Task<string[]> QueuesWithSubscribers()
    {
        var state = await LoadAsync();
        return [.. state.Queues.Where(q => q.Value.HasSubscribers).Select(q => q.Key)];
    }

    private async Task<QueueRegistryState> LoadAsync()
    {
        if (_state is not null)
        {
            return _state;
        }

        try
        {
            (var state, _etag) = await _store.ReadAsync<QueueRegistryState>(StateNames.Registry);
            _state = state ?? new QueueRegistryState();
            _state.Queues = new Dictionary<string, QueueRegistration>(_state.Queues, StringComparer.Ordinal);
            return _state;
        }
        catch (Exception ex) when (ex is not QueueException)
        {
            LogStorageFailed(ex, this.GetPrimaryKeyLong(), null);
            throw new QueueException(QueueErrorCode.StorageFailed,
                $"Reading queue registry shard {this.GetPrimaryKeyLong()} failed ({ex.GetType().Name}: {ex.Message}); retry.");
        }
    }

    [LoggerMessage((int)LogEvent.RegistryListed, LogLevel.Debug, "Queue {Queue}: listed with push subscribers {HasSubscribers} in the queue registry (shard {Shard})")]
    private partial void LogListed(string queue, bool hasSubscribers, long shard);

    [LoggerMessage((int)LogEvent.RegistryStorageFailed, LogLevel.Warning, "Queue registry shard {Shard}: a storage call failed (queue {Queue}); the shard reads its record again")]
    private partial void LogStorageFailed(Exception exception, long shard, string? queue);
}
