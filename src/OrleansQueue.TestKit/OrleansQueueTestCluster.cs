using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Orleans.Runtime;
using Orleans.TestingHost;
using OrleansQueue.Hosting;
using OrleansQueue.Options;

namespace OrleansQueue.TestKit;

/// <summary>
/// An in-process Orleans cluster hosting OrleansQueue, whose grains and grain timers read a <see cref="FakeTimeProvider"/>:
/// advance <see cref="Time"/> and locks expire, redelivery delays pass and long polls end at once, with no sleeping.
/// </summary>
/// <example>
/// <code>
/// await using var cluster = await OrleansQueueTestCluster.StartAsync();
/// var queue = cluster.GetQueue("orders");
/// await queue.SendAsync("hello");
/// var first = await queue.ReceiveAsync(1, lockDuration: TimeSpan.FromSeconds(30));
/// cluster.Time.Advance(TimeSpan.FromSeconds(31));          // the lock expires
/// var again = await queue.ReceiveAsync(1);                  // delivered again, DeliveryCount 2
/// </code>
/// </example>
public sealed class OrleansQueueTestCluster : IAsyncDisposable
{
    private OrleansQueueTestCluster(InProcessTestCluster cluster, FakeTimeProvider time, string storageName)
    {
        Cluster = cluster;
        Time = time;
        StorageName = storageName;
    }

    /// <summary>The Orleans test cluster underneath: stop or add silos, reach silo services.</summary>
    public InProcessTestCluster Cluster { get; }

    /// <summary>The clock OrleansQueue's grains and their timers read; advance it instead of sleeping.</summary>
    public FakeTimeProvider Time { get; }

    /// <summary>The name of the grain storage that holds the queues.</summary>
    public string StorageName { get; }

    /// <summary>A client connected to the cluster.</summary>
    public IClusterClient Client => Cluster.Client;

    /// <summary>The cluster-wide dead-letter store.</summary>
    public DeadLetterClient DeadLetters => Client.GetDeadLetters();

    /// <summary>Starts a cluster; see <see cref="OrleansQueueTestClusterOptions"/> for what can be changed.</summary>
    public static async Task<OrleansQueueTestCluster> StartAsync(Action<OrleansQueueTestClusterOptions>? configure = null)
    {
        var options = new OrleansQueueTestClusterOptions();
        configure?.Invoke(options);
        var time = new FakeTimeProvider(options.StartTime ?? DateTimeOffset.UtcNow);
        var queueOptions = new OrleansQueueOptions();
        options.ConfigureQueues?.Invoke(queueOptions);
        var storageName = queueOptions.StorageName;
        var builder = new InProcessTestClusterBuilder(options.Silos);
        builder.Options.ServiceId = options.ServiceId ?? "oq-test-" + Guid.NewGuid().ToString("N")[..8];
        builder.Options.ConfigureFileLogging = false;
        builder.ConfigureSilo((_, silo) =>
        {
            silo.UseInMemoryReminderService();
            silo.AddOrleansQueue(o => options.ConfigureQueues?.Invoke(o));
            if (options.ConfigureStorage is { } storage)
            {
                storage(silo);
            }
            else
            {
                silo.AddMemoryGrainStorage(storageName);
            }

            silo.Services.AddKeyedSingleton<TimeProvider>(TimeProviderNames.Grains, time);
            options.ConfigureSilo?.Invoke(silo);
        });
        var cluster = builder.Build();
        try
        {
            await cluster.DeployAsync().ConfigureAwait(false);
        }
        catch
        {
            await cluster.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return new OrleansQueueTestCluster(cluster, time, storageName);
    }

    /// <summary>A handle to the queue named <paramref name="name"/>.</summary>
    public QueueClient GetQueue(string name) => Client.GetQueue(name);

    /// <summary>Every dead-letter entry that came from <paramref name="queue"/>, oldest first.</summary>
    public async Task<IReadOnlyList<DeadLetterEntry>> DeadLettersOfAsync(string queue, CancellationToken cancellationToken = default)
    {
        var entries = new List<DeadLetterEntry>();
        await foreach (var entry in DeadLetters.BrowseAllAsync(new DeadLetterFilter { SourceQueue = queue }, cancellationToken).ConfigureAwait(false))
        {
            entries.Add(entry);
        }

        return entries;
    }

    /// <summary>
    /// Reads with <paramref name="read"/> until <paramref name="condition"/> holds and returns that value; for effects
    /// that happen in the background (a dead-letter move, a push, a redelivery). Polls every 10 ms of real time and
    /// throws <see cref="TimeoutException"/> after <paramref name="timeout"/> (default 30 s); never advances <see cref="Time"/>.
    /// </summary>
    public static async Task<T> WaitUntilAsync<T>(Func<Task<T>> read, Func<T, bool> condition, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(read);
        ArgumentNullException.ThrowIfNull(condition);
        var limit = timeout ?? TimeSpan.FromSeconds(30);
        var started = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            var value = await read().ConfigureAwait(false);
            if (condition(value))
            {
                return value;
            }

            if (started.Elapsed > limit)
            {
                throw new TimeoutException($"The condition did not hold within {limit}; the last value read was {value}.");
            }

            await Task.Delay(10).ConfigureAwait(false);
        }
    }

    /// <summary>Stops every silo and releases the cluster.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await Cluster.StopAllSilosAsync().ConfigureAwait(false);
        }
        finally
        {
            await Cluster.DisposeAsync().ConfigureAwait(false);
        }
    }
}
