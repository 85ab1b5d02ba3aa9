using Azure.Data.Tables;
using Azure.Storage.Blobs;
using Orleans.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Orleans.Runtime;
using Orleans.TestingHost;
using OrleansQueue.Hosting;
using OrleansQueue.Options;

namespace OrleansQueue.Tests.Infrastructure;

public enum StorageKind
{
    Memory,
    AzureTable,
    AzureBlob,
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
        }
    }
}

/// <summary>An in-process Orleans cluster hosting OrleansQueue, with a fake clock for grains.</summary>
public sealed class QueueTestCluster : IAsyncDisposable
{
    private QueueTestCluster(InProcessTestCluster cluster, FakeTimeProvider time)
    {
        Cluster = cluster;
        Time = time;
    }

    public InProcessTestCluster Cluster { get; }

    /// <summary>The clock grains and grain timers read; advance it to expire leases without sleeping.</summary>
    public FakeTimeProvider Time { get; }

    public IClusterClient Client => Cluster.Client;

    public QueueClient Queue(string name) => Client.GetQueue(name);

    public IQueueGrain Grain(string name) => Client.GetGrain<IQueueGrain>(name);

    public static async Task<QueueTestCluster> StartAsync(
        StorageSetup storage,
        Action<OrleansQueueOptions>? configure = null,
        string? serviceId = null,
        short silos = 1,
        Action<ISiloBuilder>? configureSilo = null,
        DateTimeOffset? startTime = null)
    {
        var time = new FakeTimeProvider(startTime ?? DateTimeOffset.UtcNow);
        var builder = new InProcessTestClusterBuilder(silos);
        builder.Options.ServiceId = serviceId ?? "oq-test-" + Guid.NewGuid().ToString("N")[..8];
        builder.Options.ConfigureFileLogging = false;
        builder.ConfigureSilo((_, silo) =>
        {
            storage.Apply(silo);
            silo.UseInMemoryReminderService();
            silo.AddOrleansQueue(o =>
            {
                o.StorageName = storage.Name;
                configure?.Invoke(o);
            });
            silo.Services.AddKeyedSingleton<TimeProvider>(TimeProviderNames.Grains, time);
            configureSilo?.Invoke(silo);
        });
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return new QueueTestCluster(cluster, time);
    }

    /// <summary>Every entry of the dead-letter grain that came from <paramref name="queue"/>, in id order.</summary>
    public async Task<List<DeadLetterEntry>> DeadLettersOf(string queue)
    {
        var entries = new List<DeadLetterEntry>();
        await foreach (var entry in Client.GetDeadLetters().BrowseAllAsync(new DeadLetterFilter { SourceQueue = queue }))
        {
            entries.Add(entry);
        }

        return entries;
    }

    /// <summary>The silo an activation of the grain lives on, or null when it is not active.</summary>
    public SiloAddress? SiloOf(IAddressable grain) =>
        Cluster.TryGetGrainContext(grain.GetGrainId(), out var context) ? context.Address.SiloAddress : null;

    /// <summary>The grain storage provider the queues use, for inspecting or tampering with stored records.</summary>
    public IGrainStorage Storage(string name = OrleansQueueOptions.DefaultStorageName) =>
        Cluster.GetSiloServiceProvider().GetRequiredKeyedService<IGrainStorage>(name);

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Cluster.StopAllSilosAsync();
        }
        finally
        {
            await Cluster.DisposeAsync();
        }
    }
}
