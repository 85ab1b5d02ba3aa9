using OrleansQueue.Benchmarks.Harness;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace OrleansQueue.Benchmarks;

/// <summary>
/// RabbitMQ (started by .ci/bench on 127.0.0.1) through RabbitMQ.Client 7: persistent messages to a durable quorum or
/// classic queue, publisher confirms tracked by the client with its publish rate limiter off (the harness keeps 1,000
/// in flight), manual acks with the prefetch as configured.
/// </summary>
public sealed class RabbitMqTarget(string queueType, int port, int? brokerPid, BenchSettings settings) : IBenchTarget
{
    private static readonly BasicProperties Persistent = new() { Persistent = true };
    private IConnection? _connection;
    private IChannel? _publisher;

    public string System => $"RabbitMQ {queueType} queue";

    public int MaxMessages => int.MaxValue;

    public async Task StartAsync()
    {
        var factory = new ConnectionFactory { HostName = "127.0.0.1", Port = port };
        _connection = await factory.CreateConnectionAsync("orleansqueue-bench");
        _publisher = await _connection.CreateChannelAsync(new CreateChannelOptions(
            publisherConfirmationsEnabled: true,
            publisherConfirmationTrackingEnabled: true,
            outstandingPublisherConfirmationsRateLimiter: null));
    }

    public async Task PrepareAsync(string queue)
    {
        var arguments = new Dictionary<string, object?> { ["x-queue-type"] = queueType };
        await _publisher!.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false, arguments);
    }

    public async Task SendAsync(string queue, byte[] body) =>
        await _publisher!.BasicPublishAsync(string.Empty, queue, mandatory: true, Persistent, body);

    public async Task<IAsyncDisposable> ConsumeAsync(string queue, Action<ReadOnlyMemory<byte>> onMessage)
    {
        var channel = await _connection!.CreateChannelAsync();
        await channel.BasicQosAsync(0, (ushort)settings.Prefetch, global: false);
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += async (_, delivery) =>
        {
            onMessage(delivery.Body);
            await channel.BasicAckAsync(delivery.DeliveryTag, multiple: false);
        };
        var tag = await channel.BasicConsumeAsync(queue, autoAck: false, consumer);
        return new Subscription(channel, tag, queue);
    }

    public long? PeakMemoryBytes() => brokerPid is { } pid ? ProcessMemory.Peak(pid) : null;

    /// <summary>The node's Erlang VM (it writes its own files: no storage process besides it).</summary>
    public IReadOnlyList<int> ServerProcessIds() => brokerPid is { } pid ? [pid] : [];

    public async ValueTask DisposeAsync()
    {
        if (_publisher is not null)
        {
            await _publisher.CloseAsync();
        }

        if (_connection is not null)
        {
            await _connection.CloseAsync();
        }
    }

    private sealed class Subscription(IChannel channel, string tag, string queue) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await channel.BasicCancelAsync(tag);
            await channel.QueueDeleteAsync(queue);
            await channel.CloseAsync();
        }
    }
}
