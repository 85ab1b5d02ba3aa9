using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Serialization;
using Orleans.Storage;
using OrleansQueue.Options;

namespace OrleansQueue.Hosting;

/// <summary>
/// Registers the grain storage provider that holds OrleansQueue's queue and dead-letter records on Azure Table or Azure
/// Blob storage, with the settings queues need: <c>DeleteStateOnClear</c> (completed segments are deleted, not left as
/// blank records) and one encoding (<see cref="QueueStorageEncoding"/>) for every silo that shares the storage.
/// </summary>
public static class OrleansQueueAzureStorageSiloBuilderExtensions
{
    /// <summary>
    /// Registers queue storage on Azure Table storage under <see cref="OrleansQueueOptions.DefaultStorageName"/>
    /// (<c>queues</c>). See <see cref="AddOrleansQueueAzureTableStorage(ISiloBuilder, string, Action{AzureTableStorageOptions}, QueueStorageEncoding)"/>.
    /// </summary>
    public static ISiloBuilder AddOrleansQueueAzureTableStorage(
        this ISiloBuilder builder,
        Action<AzureTableStorageOptions> configure,
        QueueStorageEncoding encoding = QueueStorageEncoding.Binary) =>
        builder.AddOrleansQueueAzureTableStorage(OrleansQueueOptions.DefaultStorageName, configure, encoding);

    /// <summary>
    /// Registers queue storage on Azure Table storage under <paramref name="name"/> (set
    /// <see cref="OrleansQueueOptions.StorageName"/> to the same name when it is not <c>queues</c>).
    /// </summary>
    /// <param name="builder">The silo builder.</param>
    /// <param name="name">The grain storage provider's name.</param>
    /// <param name="configure">
    /// Where the records go: the table service client, the table name, and so on. <c>DeleteStateOnClear</c> and the
    /// serializer are set after it runs, from the queue's needs and <paramref name="encoding"/>.
    /// </param>
    /// <param name="encoding">
    /// How records are encoded; default <see cref="QueueStorageEncoding.Binary"/>. Records written with one encoding are
    /// not read with the other: keep it the same on every silo and across upgrades.
    /// </param>
    public static ISiloBuilder AddOrleansQueueAzureTableStorage(
        this ISiloBuilder builder,
        string name,
        Action<AzureTableStorageOptions> configure,
        QueueStorageEncoding encoding = QueueStorageEncoding.Binary)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return builder.AddAzureTableGrainStorage(name, QueueSettings(configure, encoding, o => o.DeleteStateOnClear = true));
    }

    /// <summary>
    /// Registers queue storage on Azure Blob storage under <see cref="OrleansQueueOptions.DefaultStorageName"/>
    /// (<c>queues</c>). See <see cref="AddOrleansQueueAzureBlobStorage(ISiloBuilder, string, Action{AzureBlobStorageOptions}, QueueStorageEncoding)"/>.
    /// </summary>
    public static ISiloBuilder AddOrleansQueueAzureBlobStorage(
        this ISiloBuilder builder,
        Action<AzureBlobStorageOptions> configure,
        QueueStorageEncoding encoding = QueueStorageEncoding.Binary) =>
        builder.AddOrleansQueueAzureBlobStorage(OrleansQueueOptions.DefaultStorageName, configure, encoding);

    /// <summary>
    /// Registers queue storage on Azure Blob storage under <paramref name="name"/> (set
    /// <see cref="OrleansQueueOptions.StorageName"/> to the same name when it is not <c>queues</c>).
    /// </summary>
    /// <param name="builder">The silo builder.</param>
    /// <param name="name">The grain storage provider's name.</param>
    /// <param name="configure">
    /// Where the records go: the blob service client, the container name, and so on. <c>DeleteStateOnClear</c> and the
    /// serializer are set after it runs, from the queue's needs and <paramref name="encoding"/>.
    /// </param>
    /// <param name="encoding">
    /// How records are encoded; default <see cref="QueueStorageEncoding.Binary"/>. Records written with one encoding are
    /// not read with the other: keep it the same on every silo and across upgrades.
    /// </param>
    public static ISiloBuilder AddOrleansQueueAzureBlobStorage(
        this ISiloBuilder builder,
        string name,
        Action<AzureBlobStorageOptions> configure,
        QueueStorageEncoding encoding = QueueStorageEncoding.Binary)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return builder.AddAzureBlobGrainStorage(name, QueueSettings(configure, encoding, o => o.DeleteStateOnClear = true));
    }

    /// <summary>
    /// The user's settings, then what queues need on top: records deleted on clear (<paramref name="deleteOnClear"/>)
    /// and the serializer of <paramref name="encoding"/>.
    /// </summary>
    private static Action<OptionsBuilder<TOptions>> QueueSettings<TOptions>(Action<TOptions> configure, QueueStorageEncoding encoding, Action<TOptions> deleteOnClear)
        where TOptions : class, IStorageProviderSerializerOptions
    {
        ArgumentNullException.ThrowIfNull(configure);
        QueueStorageSerializer.Check(encoding);
        return options => options.Configure<IServiceProvider>((o, services) =>
        {
            configure(o);
            deleteOnClear(o);
            o.GrainStorageSerializer = QueueStorageSerializer.Create(encoding, services);
        });
    }
}
