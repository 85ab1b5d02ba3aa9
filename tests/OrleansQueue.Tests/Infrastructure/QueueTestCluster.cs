using Azure.Data.Tables;
using Azure.Storage.Blobs;
using Orleans.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Orleans.Runtime;
using Orleans.TestingHost;
using OrleansQueue.Hosting;
using OrleansQueue.Options;
using OrleansQueue.TestKit;

namespace OrleansQueue.Tests.Infrastructure;

public enum StorageKind
{
    Memory,
    AzureTable,
    AzureBlob,
    PostgreSql,
}

/// <summary>Where a test cluster keeps queue data. The same settings on a new cluster reach the same data.</summary>
public sealed record StorageSetup(StorageKind Kind, string? ConnectionString = null, string Name = "queues")
{
    /// <summary>Table or container name: unique per setup so test classes do not see each other's queues.</summary>
    public string Location { get; init; } = "oq" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>How Azure Table and Blob records are encoded; Binary, as the silo host stores them by default.</summary>
    public QueueStorageEncoding Encoding { get; init; } = QueueStorageEncoding.Binary;

    /// <summary>Faults to inject into writes (memory storage only), or null for none.</summary>
    public FaultInjector? Faults { get; init; }

    public void Apply(ISiloBuilder silo)
    {
        switch (Kind)
        {
            case StorageKind.Memory:
                // Memory storage behind a write counter (and a fault injector), so tests can prove what reached storage.
                silo.AddMemoryGrainStorage(Name + "-inner");
                silo.Services.AddKeyedSingleton<IGrainStorage>(Name, (sp, _) =>
                {
                    var inner = sp.GetRequiredKeyedService<IGrainStorage>(Name + "-inner");
                    return new CountingGrainStorage(Faults is null ? inner : new FaultyGrainStorage(inner, Faults));
                });
                break;
            case StorageKind.AzureTable:
                silo.AddOrleansQueueAzureTableStorage(Name, o =>
                {
                    o.TableServiceClient = new TableServiceClient(ConnectionString);
                    o.TableName = Location;
                }, Encoding);
                break;
            case StorageKind.AzureBlob:
                silo.AddOrleansQueueAzureBlobStorage(Name, o =>
                {
                    o.BlobServiceClient = new BlobServiceClient(ConnectionString);
                    o.ContainerName = Location;
                }, Encoding);
                break;
            case StorageKind.PostgreSql:
                silo.AddOrleansQueuePostgreSqlStorage(Name, o =>
                {
                    o.ConnectionString = ConnectionString!;
                    o.Encoding = Encoding;
                });
                break;
        }
    }
}

/// <summary>
/// An in-process Orleans cluster hosting OrleansQueue, with a fake clock for grains: the test kit's
/// <see cref="OrleansQueueTestCluster"/> (so every cluster test exercises it), on the storage a test chooses.
/// </summary>
public sealed class QueueTestCluster : IAsyncDisposable
{
    private readonly OrleansQueueTestCluster _kit;

    private QueueTestCluster(OrleansQueueTestCluster kit) => _kit = kit;

    public InProcessTestCluster Cluster => _kit.Cluster;

    /// <summary>The clock grains and grain timers read; advance it to expire locks without sleeping.</summary>
    public FakeTimeProvider Time => _kit.Time;

    public IClusterClient Client => _kit.Client;

    public QueueClient Queue(string name) => _kit.GetQueue(name);

    public IQueueGrain Grain(string name) => Client.GetGrain<IQueueGrain>(name);

    public static async Task<QueueTestCluster> StartAsync(
        StorageSetup storage,
        Action<OrleansQueueOptions>? configure = null,
        string? serviceId = null,
        short silos = 1,
        Action<ISiloBuilder>? configureSilo = null,
        DateTimeOffset? startTime = null) =>
        new(await OrleansQueueTestCluster.StartAsync(o =>
        {
            o.Silos = silos;
            o.ServiceId = serviceId;
            o.StartTime = startTime;
            o.ConfigureStorage = storage.Apply;
            o.ConfigureQueues = q =>
            {
                q.StorageName = storage.Name;
                configure?.Invoke(q);
            };
            o.ConfigureSilo = configureSilo;
        }));

    /// <summary>Every entry of the dead-letter grain that came from <paramref name="queue"/>, in id order.</summary>
    public async Task<List<DeadLetterEntry>> DeadLettersOf(string queue) => [.. await _kit.DeadLettersOfAsync(queue)];

    /// <summary>The silo an activation of the grain lives on, or null when it is not active.</summary>
    public SiloAddress? SiloOf(IAddressable grain) =>
        Cluster.TryGetGrainContext(grain.GetGrainId(), out var context) ? context.Address.SiloAddress : null;

    /// <summary>The grain storage provider the queues use, for inspecting or tampering with stored records.</summary>
    public IGrainStorage Storage(string name = OrleansQueueOptions.DefaultStorageName) =>
        Cluster.GetSiloServiceProvider().GetRequiredKeyedService<IGrainStorage>(name);

    public ValueTask DisposeAsync() => _kit.DisposeAsync();
}
