using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Runtime.Hosting;
using OrleansQueue.Options;
using OrleansQueue.PostgreSql;

namespace OrleansQueue.Hosting;

/// <summary>Runs OrleansQueue, and if wanted the cluster's membership and reminders, on PostgreSQL.</summary>
public static class OrleansQueuePostgreSqlSiloBuilderExtensions
{
    /// <summary>
    /// Registers queue storage on PostgreSQL under <see cref="OrleansQueueOptions.DefaultStorageName"/> (<c>queues</c>).
    /// See <see cref="AddOrleansQueuePostgreSqlStorage(ISiloBuilder, string, Action{PostgreSqlQueueStorageOptions})"/>.
    /// </summary>
    public static ISiloBuilder AddOrleansQueuePostgreSqlStorage(this ISiloBuilder builder, Action<PostgreSqlQueueStorageOptions> configure) =>
        builder.AddOrleansQueuePostgreSqlStorage(OrleansQueueOptions.DefaultStorageName, configure);

    /// <summary>
    /// Registers queue storage on PostgreSQL under <paramref name="name"/> (set <see cref="OrleansQueueOptions.StorageName"/>
    /// to the same). A write returns once PostgreSQL committed it. At start-up the silo checks the connection and the
    /// schema (<see cref="PostgreSqlSchema.CheckAsync"/>) and stops with an error naming the cause if either is wrong.
    /// </summary>
    public static ISiloBuilder AddOrleansQueuePostgreSqlStorage(this ISiloBuilder builder, string name, Action<PostgreSqlQueueStorageOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(configure);
        var options = new PostgreSqlQueueStorageOptions();
        configure(options);
        if (string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            throw new OrleansConfigurationException($"{nameof(PostgreSqlQueueStorageOptions)}.{nameof(PostgreSqlQueueStorageOptions.ConnectionString)} is required for grain storage '{name}'.");
        }

        if (options.MaxWritesPerCommit is < 1 or > 1000)
        {
            throw new OrleansConfigurationException($"{nameof(PostgreSqlQueueStorageOptions)}.{nameof(PostgreSqlQueueStorageOptions.MaxWritesPerCommit)} is {options.MaxWritesPerCommit} for grain storage '{name}'; it must be 1 to 1,000.");
        }

        if (options.MaxConcurrentCommits is < 1 or > 64)
        {
            throw new OrleansConfigurationException($"{nameof(PostgreSqlQueueStorageOptions)}.{nameof(PostgreSqlQueueStorageOptions.MaxConcurrentCommits)} is {options.MaxConcurrentCommits} for grain storage '{name}'; it must be 1 to 64.");
        }

        QueueStorageSerializer.Check(options.Encoding);
        builder.Services.AddGrainStorage(name, (services, key) => new PostgreSqlGrainStorage(
            key, options, services.GetRequiredService<IOptions<ClusterOptions>>(), services,
            services.GetRequiredService<ILogger<PostgreSqlGrainStorage>>()));
        return builder;
    }

    /// <summary>
    /// Cluster membership on PostgreSQL: Orleans' ADO.NET clustering provider (<c>Invariant = "Npgsql"</c>) on the tables
    /// and named queries of OrleansQueue's schema (<see cref="PostgreSqlSchema"/>).
    /// </summary>
    public static ISiloBuilder UseOrleansQueuePostgreSqlClustering(this ISiloBuilder builder, string connectionString) =>
        builder.UseAdoNetClustering(o =>
        {
            o.Invariant = PostgreSqlSchema.Invariant;
            o.ConnectionString = connectionString;
        });

    /// <summary>Reminders on PostgreSQL: Orleans' ADO.NET reminder provider on OrleansQueue's schema.</summary>
    public static ISiloBuilder UseOrleansQueuePostgreSqlReminders(this ISiloBuilder builder, string connectionString) =>
        builder.UseAdoNetReminderService(o =>
        {
            o.Invariant = PostgreSqlSchema.Invariant;
            o.ConnectionString = connectionString;
        });

    /// <summary>A client finds the cluster's gateways in PostgreSQL membership (as written by <see cref="UseOrleansQueuePostgreSqlClustering(ISiloBuilder, string)"/>).</summary>
    public static IClientBuilder UseOrleansQueuePostgreSqlClustering(this IClientBuilder builder, string connectionString) =>
        builder.UseAdoNetClustering(o =>
        {
            o.Invariant = PostgreSqlSchema.Invariant;
            o.ConnectionString = connectionString;
        });
}
