using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using OrleansQueue.Benchmarks.Harness;
using OrleansQueue.Tests.Infrastructure;

namespace OrleansQueue.Benchmarks;

/// <summary>
/// OrleansQueue as its users run it: the silo host (silo-host/) as its own process, an Orleans client in this process
/// sending over the gateway, and a push consumer subscribed from this client (auto-complete, prefetch as configured).
/// <paramref name="provider"/> is the silo host's Storage:Provider (AzureTable, PostgreSql, Memory) and
/// <paramref name="connectionString"/> its Storage:ConnectionString; <paramref name="storagePids"/> are the storage's
/// processes (Azurite, or the PostgreSQL server, whose CPU counts with the silo's).
/// </summary>
public sealed class OrleansQueueTarget(
    string system, string provider, string? connectionString, IReadOnlyList<int> storagePids, string durability, IWriteMeter? writes, BenchSettings settings)
    : IStragglerTarget
{
    private SiloHostProcess? _silo;
    private IHost? _client;
    private IClusterClient? _cluster;

    public string System { get; } = system;

    public string Durability => durability;

    public IWriteMeter? Writes => writes;

    public int MaxMessages => int.MaxValue;

    /// <summary>The Azurite connection string of the silo's storage; null on other storage.</summary>
    public string? AzuriteConnectionString => provider == "AzureTable" ? connectionString : null;

    private IClusterClient Cluster => _cluster ?? throw new InvalidOperationException("Not started.");

    /// <summary>The Orleans client, for workloads that use OrleansQueue's own API (settings, dead letters).</summary>
    public IClusterClient Client => Cluster;

    public async Task StartAsync()
    {
        var siloPort = Loopback.FreePort();
        var gatewayPort = Loopback.FreePort();
        var args = new List<string> { $"--Storage:Provider={provider}", $"--Cluster:ClusterId=oq-bench-{provider.ToLowerInvariant()}" };
        if (connectionString is not null)
        {
            args.Add($"--Storage:ConnectionString={connectionString}");
        }

        // ORLEANSQUEUE_BENCH_SILO_ARGS: more silo host settings for an experiment, e.g. "--OrleansQueue:ActiveSegments=64".
        args.AddRange((Environment.GetEnvironmentVariable("ORLEANSQUEUE_BENCH_SILO_ARGS") ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries));
        _silo = await SiloHostProcess.StartAsync(siloPort, gatewayPort, [.. args]);
        _client = new HostBuilder()
            .UseOrleansClient(c =>
            {
                c.UseStaticClustering(new IPEndPoint(IPAddress.Loopback, gatewayPort));
                c.Configure<ClusterOptions>(o => (o.ServiceId, o.ClusterId) = ("orleans-queue", $"oq-bench-{provider.ToLowerInvariant()}"));
                c.AddOrleansQueueClient();
            })
            .Build();
        await _client.StartAsync();
        _cluster = _client.Services.GetRequiredService<IClusterClient>();

        // Warm up: activation, storage connections, JIT on both sides.
        var warm = Cluster.GetQueue("bench-warmup");
        await Task.WhenAll(Enumerable.Range(0, 2000).Select(_ => warm.SendAsync(new OutgoingMessage(new byte[Recorder.BodySize]))));
        await warm.DeleteAsync();
    }

    public Task PrepareAsync(string queue) => Task.CompletedTask;

    public Task SendAsync(string queue, byte[] body) => Cluster.GetQueue(queue).SendAsync(new OutgoingMessage(body));

    public async Task<IAsyncDisposable> ConsumeAsync(string queue, Action<ReadOnlyMemory<byte>> onMessage, int prefetch) =>
        await Cluster.GetQueue(queue).SubscribeAsync(new Consumer(onMessage), ConsumerOptions(prefetch));

    /// <summary>Subscribes a consumer, as <see cref="ConsumeAsync"/> does, whose handler fails every delivery.</summary>
    public async Task<IAsyncDisposable> RejectAllAsync(string queue) =>
        await Cluster.GetQueue(queue).SubscribeAsync(new Rejecter(), ConsumerOptions(settings.Prefetch));

    private ConsumerOptions ConsumerOptions(int prefetch)
    {
        var batch = Math.Min(settings.PushBatch, prefetch);
        return new()
        {
            Prefetch = prefetch,
            MaxBatchSize = batch,
            MaxConcurrentCalls = Math.Max(1, prefetch / batch), // a client object runs calls concurrently
        };
    }

    /// <summary>
    /// Adds <paramref name="count"/> messages in batches of 1,000, eight batches in flight; returns how many were
    /// confirmed. With <paramref name="idPrefix"/>, message i has the id <c>{idPrefix}-{i}</c>.
    /// </summary>
    public async Task<long> FillAsync(string queue, int count, string? idPrefix = null, DateTimeOffset? scheduledEnqueueTime = null)
    {
        var handle = Cluster.GetQueue(queue);
        var batches = (count + 999) / 1000;
        long confirmed = 0;
        using var gate = new SemaphoreSlim(8);
        await Task.WhenAll(Enumerable.Range(0, batches).Select(async b =>
        {
            await gate.WaitAsync();
            try
            {
                var size = Math.Min(1000, count - b * 1000);
                await handle.SendBatchAsync(Enumerable.Range(b * 1000, size).Select(i => new OutgoingMessage(new byte[Recorder.BodySize])
                {
                    MessageId = idPrefix is null ? null : $"{idPrefix}-{i}",
                    ScheduledEnqueueTime = scheduledEnqueueTime,
                }));
                Interlocked.Add(ref confirmed, size);
            }
            finally
            {
                gate.Release();
            }
        }));
        return confirmed;
    }

    /// <summary>Receives the queue's messages through a <see cref="QueueClient"/> of this client, locked for <paramref name="lockDuration"/>, and keeps their lock tokens.</summary>
    public async Task<IStragglers> HoldAsync(string queue, int count, TimeSpan lockDuration, TimeSpan timeout)
    {
        var handle = Cluster.GetQueue(queue);
        var tokens = new List<Guid>(count);
        var watch = Stopwatch.StartNew();
        while (tokens.Count < count && watch.Elapsed < timeout)
        {
            var received = await handle.WaitAndReceiveAsync(TimeSpan.FromSeconds(1), Math.Min(count - tokens.Count, 1000), lockDuration);
            tokens.AddRange(received.Select(m => m.LockToken));
        }

        var stats = await handle.GetStatsAsync();
        return new Stragglers(handle, tokens, (int)Math.Min(tokens.Count, stats.LockedCount), stats.ReadyCount,
            $"a QueueClient receive, locked for {lockDuration.TotalMinutes:0.##} min");
    }

    public Task<QueueStats> StatsAsync(string queue) => Cluster.GetQueue(queue).GetStatsAsync();

    public Task PurgeAsync(string queue) => Cluster.GetQueue(queue).PurgeAsync();

    /// <summary>Deletes the queue with every record of it: its activation, duplicate-detection ids included, leaves the silo's memory.</summary>
    public Task DeleteAsync(string queue) => Cluster.GetQueue(queue).DeleteAsync();

    public long? PeakMemoryBytes() => _silo is null ? null : ProcessMemory.Peak(_silo.Pid);

    /// <summary>The silo host, and the storage's processes.</summary>
    public IReadOnlyList<int> ServerProcessIds() =>
        _silo is null ? storagePids : [_silo.Pid, .. storagePids];

    public async ValueTask DisposeAsync()
    {
        if (_client is not null)
        {
            await _client.StopAsync();
            _client.Dispose();
        }

        if (_silo is not null)
        {
            await _silo.StopAsync(TimeSpan.FromSeconds(30));
            await _silo.DisposeAsync();
        }
    }

    private sealed class Consumer(Action<ReadOnlyMemory<byte>> onMessage) : IQueueConsumer
    {
        public Task Handle(QueueDelivery delivery)
        {
            onMessage(delivery.Message.Body);
            return Task.CompletedTask;
        }
    }

    private sealed class Stragglers(QueueClient queue, List<Guid> lockTokens, int held, long readyBeside, string receiver) : IStragglers
    {
        public string Receiver => receiver;

        public int Held => held;

        public long ReadyBeside => readyBeside;

        /// <summary>Completes them, 1,000 lock tokens a call: a call completes all of its messages, or none if a lock was lost.</summary>
        public async Task<string?> SettleAsync()
        {
            try
            {
                foreach (var chunk in lockTokens.Chunk(1000))
                {
                    await queue.CompleteAsync(chunk);
                }

                return null;
            }
            catch (QueueException ex)
            {
                return $"completing them failed: {ex.Code}: {ex.Message}";
            }
        }

        /// <summary>Nothing to close: a receive holds no connection, and settled messages are gone.</summary>
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    private sealed class Rejecter : IQueueConsumer
    {
        public Task Handle(QueueDelivery delivery) => Task.FromException(new InvalidOperationException("This consumer fails every message."));
    }
}
