using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Orleans.Runtime;
using OrleansQueue.Options;

namespace OrleansQueue.Hosting;

/// <summary>Adds OrleansQueue to a silo.</summary>
public static class OrleansQueueSiloBuilderExtensions
{
    /// <summary>
    /// Hosts OrleansQueue queue grains in this silo. Register a grain storage provider named
    /// <see cref="OrleansQueueOptions.StorageName"/> (default <c>queues</c>) as well; the options are validated at start-up.
    /// </summary>
    public static ISiloBuilder AddOrleansQueue(this ISiloBuilder builder, Action<OrleansQueueOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddOrleansQueue(configure);
        return builder;
    }

    /// <summary>Hosts OrleansQueue with options bound from <paramref name="configuration"/> (for example the <c>OrleansQueue</c> section).</summary>
    public static ISiloBuilder AddOrleansQueue(this ISiloBuilder builder, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        builder.Services.AddOrleansQueue();
        builder.Services.Configure<OrleansQueueOptions>(configuration);
        return builder;
    }

    /// <summary>Registers OrleansQueue's services; safe to call more than once.</summary>
    public static IServiceCollection AddOrleansQueue(this IServiceCollection services, Action<OrleansQueueOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        if (configure is not null)
        {
            services.Configure(configure);
        }

        if (services.Any(d => d.ServiceType == typeof(OrleansQueueMarker)))
        {
            return services;
        }

        services.AddSingleton<OrleansQueueMarker>();
        services.AddOptions<OrleansQueueOptions>();
        services.AddSingleton<IConfigurationValidator, OrleansQueueOptionsValidator>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, ConfiguredSubscriptions>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, QueueWaker>();
        return services;
    }

    private sealed class OrleansQueueMarker;
}
