using OrleansQueue.Options;

namespace OrleansQueue.TestKit;

/// <summary>How <see cref="OrleansQueueTestCluster.StartAsync"/> builds its cluster.</summary>
public sealed class OrleansQueueTestClusterOptions
{
    /// <summary>Silos in the cluster. Default 1.</summary>
    public short Silos { get; set; } = 1;

    /// <summary>The cluster's service id; queue data is keyed by it. Default: a new id per cluster.</summary>
    public string? ServiceId { get; set; }

    /// <summary>Where the fake clock starts. Default: the wall clock when the cluster starts.</summary>
    public DateTimeOffset? StartTime { get; set; }

    /// <summary>OrleansQueue's options on every silo (segment sizes, default lock duration, limits).</summary>
    public Action<OrleansQueueOptions>? ConfigureQueues { get; set; }

    /// <summary>
    /// Registers the grain storage that queues use, named <see cref="OrleansQueueOptions.StorageName"/> (by default
    /// <c>queues</c>). Default: Orleans' memory grain storage, which lives as long as the cluster.
    /// </summary>
    public Action<ISiloBuilder>? ConfigureStorage { get; set; }

    /// <summary>
    /// Anything else each silo needs: your consumer grains' dependencies, messaging options. Every silo already has
    /// Orleans' in-memory reminder service.
    /// </summary>
    public Action<ISiloBuilder>? ConfigureSilo { get; set; }
}
