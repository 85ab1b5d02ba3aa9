using System.Diagnostics;
using System.Net;
using Azure.Data.Tables;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Concurrency;
using OrleansQueue.Hosting;
using OrleansQueue.Tests.Infrastructure;

namespace OrleansQueue.Benchmarks;

[Alias("oq.bench.IBenchConsumerGrain")]
public interface IBenchConsumerGrain : IQueueConsumer, IGrainWithIntegerKey;

/// <summary>Does nothing but count: the measurement is the queue's push and settle path.</summary>
[Reentrant]
public sealed class BenchConsumerGrain : Grain, IBenchConsumerGrain
{
    public static long Handled;

    public Task Handle(QueueDelivery delivery)
    {
        Interlocked.Increment(ref Handled);
        return Task.CompletedTask;
    }
}

internal static class PushBenchmark
{
    public static async Task<List<(string Name, int Count, double Seconds)>> RunAsync(string connectionString, int messages)
    {
        var siloPort = Loopback.FreePort();
        var gatewayPort = Loopback.FreePort();
        using var host = Host.CreateApplicationBuilder().Apply(b =>
        {
            b.Logging.SetMinimumLevel(LogLevel.Warning);
            b.UseOrleans(silo =>
            {
                silo.UseLocalhostClustering(siloPort, gatewayPort, new IPEndPoint(IPAddress.Loopback, siloPort), "oq-bench-push", "oq-bench-push");
                silo.AddAzureTableGrainStorage("queues", o =>
                {
                    o.TableServiceClient = new TableServiceClient(connectionString);
                    o.TableName = "OrleansQueueBenchPush";
                    o.DeleteStateOnClear = true;
                });
                silo.UseInMemoryReminderService();
                silo.AddOrleansQueue();
            });
        }).Build();
        await host.StartAsync();
        var grains = host.Services.GetRequiredService<IGrainFactory>();
        var body = new byte[256];
        var results = new List<(string, int, double)>();

        // Sends and pushes running together: 1,000 sends in flight, 3 consumers with prefetch 100.
        var queue = grains.GetQueue("bench-push");
        for (var i = 0; i < 3; i++)
        {
            await queue.SubscribeAsync(grains.GetGrain<IBenchConsumerGrain>(i), new ConsumerOptions { Prefetch = 100 });
        }

        var watch = Stopwatch.StartNew();
        await SendPipelinedAsync(queue, messages, body, inFlight: 1000);
        var completed = await WaitCompletedAsync(queue, messages);
        results.Add(("push, sending and consuming together (auto-complete)", (int)completed, watch.Elapsed.TotalSeconds));

        // A backlog first, then consumers subscribe and drain it.
        var backlog = grains.GetQueue("bench-push-backlog");
        await Task.WhenAll(Enumerable.Range(0, messages / 1000).Select(b =>
            backlog.SendBatchAsync(Enumerable.Range(0, 1000).Select(_ => new OutgoingMessage(body)))));
        watch.Restart();
        for (var i = 10; i < 13; i++)
        {
            await backlog.SubscribeAsync(grains.GetGrain<IBenchConsumerGrain>(i), new ConsumerOptions { Prefetch = 100 });
        }

        completed = await WaitCompletedAsync(backlog, messages / 1000 * 1000);
        results.Add(("push, draining a backlog (auto-complete)", (int)completed, watch.Elapsed.TotalSeconds));
        await host.StopAsync();
        return results;
    }

    private static async Task<long> WaitCompletedAsync(QueueClient queue, long expected)
    {
        var deadline = DateTime.UtcNow.AddMinutes(5);
        while (true)
        {
            var stats = await queue.GetStatsAsync();
            if (stats.TotalCompleted >= expected || DateTime.UtcNow > deadline)
            {
                return stats.TotalCompleted;
            }

            await Task.Delay(10);
        }
    }

    /// <summary>Sends <paramref name="count"/> messages, one per call, keeping <paramref name="inFlight"/> calls outstanding.</summary>
    public static async Task SendPipelinedAsync(QueueClient queue, int count, byte[] body, int inFlight)
    {
        using var gate = new SemaphoreSlim(inFlight);
        await Task.WhenAll(Enumerable.Range(0, count).Select(async _ =>
        {
            await gate.WaitAsync();
            try
            {
                await queue.SendAsync(new OutgoingMessage(body));
            }
            finally
            {
                gate.Release();
            }
        }));
    }

    private static T Apply<T>(this T value, Action<T> action)
    {
        action(value);
        return value;
    }
}
