using OrleansQueue.Benchmarks.Harness;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;

namespace OrleansQueue.Benchmarks;

/// <summary>
/// RabbitMQ (started by .ci/bench on 127.0.0.1) through RabbitMQ.Client 7: persistent messages to a durable quorum or
/// classic queue, publisher confirms tracked by the client with its publish rate limiter off (the harness keeps 1,000
/// in flight), manual acks with the prefetch as configured.
/// </summary>
public sealed class RabbitMqTarget(string queueType, int port, int? brokerPid) : IStragglerTarget
{
    private static readonly BasicProperties Persistent = new() { Persistent = true };
    private IConnection? _connection;
    private IChannel? _publisher;

    public string System => $"RabbitMQ {queueType} queue";

    public int MaxMessages => int.MaxValue;

    /// <summary>Quorum queues fsync their Raft log, classic queues their message store, before a publisher confirm (both in batches).</summary>
    public string Durability => Harness.Durability.Fsync;

    /// <summary>The node's disk writes.</summary>
    public IWriteMeter? Writes { get; } = brokerPid is { } pid ? new ProcIoMeter(pid, "write_bytes", "bytes the Erlang VM wrote to disk (/proc write_bytes)") : null;

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

    public async Task<IAsyncDisposable> ConsumeAsync(string queue, Action<ReadOnlyMemory<byte>> onMessage, int prefetch)
    {
        var channel = await _connection!.CreateChannelAsync();
        await channel.BasicQosAsync(0, checked((ushort)prefetch), global: false);
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += async (_, delivery) =>
        {
            onMessage(delivery.Body);
            await channel.BasicAckAsync(delivery.DeliveryTag, multiple: false);
        };
        var tag = await channel.BasicConsumeAsync(queue, autoAck: false, consumer);
        return new Subscription(channel, tag, queue);
    }

    /// <summary>
    /// A second channel whose consumer has a prefetch of <paramref name="count"/> and never acknowledges: RabbitMQ has
    /// no lock duration, it keeps unacknowledged messages with the channel until it closes.
    /// </summary>
    public async Task<IStragglers> HoldAsync(string queue, int count, TimeSpan lockDuration, TimeSpan timeout)
    {
        var channel = await _connection!.CreateChannelAsync();
        await channel.BasicQosAsync(0, checked((ushort)count), global: false);
        var stragglers = new Stragglers(channel, count);
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += (_, delivery) =>
        {
            stragglers.OnDelivery(delivery.DeliveryTag);
            return Task.CompletedTask;
        };
        await channel.BasicConsumeAsync(queue, autoAck: false, consumer);
        await stragglers.WaitAsync(timeout);
        stragglers.ReadyBeside = (await channel.QueueDeclarePassiveAsync(queue)).MessageCount;
        return stragglers;
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

    private sealed class Stragglers(IChannel channel, int count) : IStragglers
    {
        private readonly TaskCompletionSource _all = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _held;
        private ulong _lastTag;

        public string Receiver => $"a second channel with prefetch {count:N0} and no acks";

        public int Held => Volatile.Read(ref _held);

        public long ReadyBeside { get; set; }

        /// <summary>Delivery tags grow on a channel: the last one acknowledges every delivery with <c>multiple</c>.</summary>
        public void OnDelivery(ulong deliveryTag)
        {
            Volatile.Write(ref _lastTag, deliveryTag);
            if (Interlocked.Increment(ref _held) == count)
            {
                _all.TrySetResult();
            }
        }

        public async Task WaitAsync(TimeSpan timeout)
        {
            try
            {
                await _all.Task.WaitAsync(timeout);
            }
            catch (TimeoutException)
            {
                // Held says how many arrived.
            }
        }

        /// <summary>Acknowledges every delivery, which needs the channel still open: had it closed, its messages would have gone back to the queue.</summary>
        public async Task<string?> SettleAsync()
        {
            if (!channel.IsOpen)
            {
                return $"the holding channel closed: {channel.CloseReason}";
            }

            try
            {
                await channel.BasicAckAsync(Volatile.Read(ref _lastTag), multiple: true);
                return null;
            }
            catch (AlreadyClosedException ex)
            {
                return $"the holding channel closed: {ex.Message}";
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (channel.IsOpen)
            {
                await channel.CloseAsync();
            }

            channel.Dispose();
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
