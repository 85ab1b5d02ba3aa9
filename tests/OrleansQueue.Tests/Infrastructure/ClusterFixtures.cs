using OrleansQueue.Options;

namespace OrleansQueue.Tests.Infrastructure;

/// <summary>One cluster per test class. Small segments and a small window so that a few messages exercise the segment logic.</summary>
public abstract class QueueClusterFixture : IAsyncLifetime
{
    public QueueTestCluster Cluster { get; private set; } = null!;

    public StorageSetup Storage { get; private set; } = null!;

    protected virtual void Configure(OrleansQueueOptions options)
    {
        options.SegmentMaxMessages = 4;
        options.SegmentChunkMessages = 2; // small sends make segments of two chunks
        options.ActiveSegments = 2;
    }

    protected abstract Task<StorageSetup> CreateStorageAsync();

    /// <summary>Anything else the silos need (messaging options, say).</summary>
    protected virtual void ConfigureSilo(ISiloBuilder silo)
    {
    }

    public async Task InitializeAsync()
    {
        Storage = await CreateStorageAsync();
        Cluster = await QueueTestCluster.StartAsync(Storage, Configure, configureSilo: ConfigureSilo);
    }

    public virtual async Task DisposeAsync() => await Cluster.DisposeAsync();
}

public sealed class MemoryClusterFixture : QueueClusterFixture
{
    protected override Task<StorageSetup> CreateStorageAsync() => Task.FromResult(new StorageSetup(StorageKind.Memory));
}

/// <summary>A cluster on its own Azurite instance.</summary>
public abstract class AzuriteClusterFixture(StorageKind kind) : QueueClusterFixture
{
    public AzuriteFixture Azurite { get; private set; } = null!;

    protected override async Task<StorageSetup> CreateStorageAsync()
    {
        Azurite = new AzuriteFixture();
        await Task.CompletedTask;
        return new StorageSetup(kind, Azurite.ConnectionString);
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Azurite.DisposeAsync();
    }
}

public sealed class AzureTableClusterFixture() : AzuriteClusterFixture(StorageKind.AzureTable);

public sealed class AzureBlobClusterFixture() : AzuriteClusterFixture(StorageKind.AzureBlob);

/// <summary>A cluster on its own PostgreSQL server.</summary>
public sealed class PostgreSqlClusterFixture : QueueClusterFixture
{
    public PostgreSqlFixture PostgreSql { get; private set; } = null!;

    protected override async Task<StorageSetup> CreateStorageAsync()
    {
        PostgreSql = await PostgreSqlFixture.StartAsync();
        return new StorageSetup(StorageKind.PostgreSql, PostgreSql.ConnectionString);
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await PostgreSql.DisposeAsync();
    }
}
