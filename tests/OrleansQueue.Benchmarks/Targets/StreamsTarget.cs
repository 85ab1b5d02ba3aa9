using System.Collections.Concurrent;
using System.Net;
using Azure.Storage.Queues;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Streams;
using OrleansQueue.Benchmarks.Harness;
using OrleansQueue.Tests.Infrastructure;

namespace OrleansQueue.Benchmarks;

[Alias("oq.bench.IStreamBenchConsumerGrain")]
public interface IStreamBenchConsumerGrain : IGrainWithStringKey;

/// <summary>An implicit subscriber: one activation per stream, handing each item to the harness.</summary>
[ImplicitStreamSubscription(StreamsTarget.Namespace)]
public sealed class StreamBenchConsumerGrain : Grain, IStreamBenchConsumerGrain
{
    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var key = this.GetPrimaryKeyString();
        var stream = this.GetStreamProvider(StreamsTarget.ProviderName).GetStream<byte[]>(StreamId.Create(StreamsTarget.Namespace, key));
        await stream.SubscribeAsync((body, _) =>
        {
            StreamsTarget.Deliver(key, body);
            return Task.CompletedTask;
        });
    }
}

/// <summary>
/// Orleans persistent streams over Azure Queue storage on the same Azurite: what an Orleans user picks today. A silo in
/// this process with the Azure Queue stream provider (8 queues, the default); the producer is the silo's client
/// (OnNextAsync returns once the item is in the Azure queue), the consumer an implicitly subscribed grain.
/// </summary>
public sealed class StreamsTarget(string azuriteConnectionString, int? azuritePid, int maxMessages) : IBenchTarget
{
    public const string SystemName = "Orleans streams (Azure Queue on Azurite)";
    public const string ProviderName = "bench";
    public const string Namespace = "bench";

    private static readonly ConcurrentDictionary<string, Action<ReadOnlyMemory<byte>>> Consumers = new();
    private IHost? _host;
    private IStreamProvider? _streams;

    public string System => SystemName;

    public int MaxMessages { get; } = maxMessages;

    public string Durability => Harness.Durability.Emulator;

    public IWriteMeter? Writes { get; } = azuritePid is { } pid ? ProcIoMeter.AzuriteRequests(pid) : null;

    internal static void Deliver(string stream, byte[] body)
    {
        if (Consumers.TryGetValue(stream, out var consumer))
        {
            consumer(body);
        }
    }

    public async Task StartAsync()
    {
        var siloPort = Loopback.FreePort();
        var gatewayPort = Loopback.FreePort();
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Logging.AddFilter("Orleans.AzureUtils", LogLevel.Error); // "slow access" warnings for every send under load
        builder.UseOrleans(silo =>
        {
            silo.UseLocalhostClustering(siloPort, gatewayPort, new IPEndPoint(IPAddress.Loopback, siloPort), "oq-bench-streams", "oq-bench-streams");
            silo.AddMemoryGrainStorage("PubSubStore");
            silo.AddAzureQueueStreams(ProviderName, configurator =>
            {
                configurator.ConfigureAzureQueue(options => options.Configure(o => o.QueueServiceClient = new QueueServiceClient(azuriteConnectionString)));
            });
        });
        _host = builder.Build();
        await _host.StartAsync();
        _streams = _host.Services.GetRequiredService<IClusterClient>().GetStreamProvider(ProviderName);
    }

    public Task PrepareAsync(string queue) => Task.CompletedTask;

    public Task SendAsync(string queue, byte[] body) => _streams!.GetStream<byte[]>(StreamId.Create(Namespace, queue)).OnNextAsync(body);

    public Task<IAsyncDisposable> ConsumeAsync(string queue, Action<ReadOnlyMemory<byte>> onMessage, int prefetch)
    {
        Consumers[queue] = onMessage;
        return Task.FromResult<IAsyncDisposable>(new Removal(queue));
    }

    public long? PeakMemoryBytes() => null; // the silo shares this process with the harness

    /// <summary>Azurite only: the streams silo runs in this process, so its CPU counts as the client's.</summary>
    public IReadOnlyList<int> ServerProcessIds() => azuritePid is { } pid ? [pid] : [];

    public async ValueTask DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.StopAsync();
            _host.Dispose();
        }
    }

    private sealed class Removal(string queue) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            Consumers.TryRemove(queue, out _);
            return ValueTask.CompletedTask;
        }
    }
}
