using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OrleansQueue.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansQueue.Tests.Faults;

/// <summary>
/// F12: the README's set-up (one silo host on Azurite, a client with AddOrleansQueueClient) with a producer and a
/// long-polling receiver running; the silo host is SIGKILLed and started again. The calls in flight at the kill must
/// not wait out Orleans' 30 s response timeout: sends and receives resume within seconds of the new gateway opening.
/// Pushes to a client consumer resume as fast, without any call to their queue: the new silo wakes the queues the
/// registry lists with subscribers.
/// </summary>
[Trait("Category", "Fault")]
public sealed class FailoverTests(ITestOutputHelper output) : AzuriteTest
{
    [Fact]
    public async Task F12_TheSiloKilledAndRestarted_SendsAndReceivesResumeWithinSecondsOfItsGateway_NothingLost()
    {
        var (siloPort, gatewayPort) = (Loopback.FreePort(), Loopback.FreePort());
        string[] settings = [$"--Storage:ConnectionString={Azurite.ConnectionString}", $"--Storage:TableName=f12{Guid.NewGuid():N}"[..36]];
        var silo = await SiloHostProcess.StartAsync(siloPort, gatewayPort, settings);
        try
        {
            using var client = SiloHostClient.Build([gatewayPort], configure: c => c.AddOrleansQueueClient());
            await client.StartAsync();
            var grains = client.Services.GetRequiredService<IClusterClient>();
            var queue = grains.GetQueue("f12");
            var history = new History();
            using var stop = new CancellationTokenSource();
            var clock = Stopwatch.StartNew();
            var sends = new System.Collections.Concurrent.ConcurrentQueue<long>(); // when each send and receive succeeded
            var receives = new System.Collections.Concurrent.ConcurrentQueue<long>();
            var notes = new System.Collections.Concurrent.ConcurrentQueue<string>();

            var producing = Task.Run(async () =>
            {
                for (var i = 0; !stop.IsCancellationRequested; i++)
                {
                    var id = $"f12-{i}";
                    try
                    {
                        await queue.SendAsync(OutgoingMessage.FromText(id, id));
                        history.Sent(id, SendOutcome.Ok);
                        sends.Enqueue(clock.ElapsedMilliseconds);
                    }
                    catch (Exception e) when (e is QueueException or TimeoutException or OrleansException or OperationCanceledException)
                    {
                        history.Sent(id, SendOutcome.Unknown);
                        notes.Enqueue($"{clock.ElapsedMilliseconds} ms: a send failed: {e.GetType().Name}: {e.Message}");
                    }

                    await Task.Delay(20);
                }
            });
            var receiving = Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    try
                    {
                        if (await Workload.ReceiveAndCompleteAsync(queue, history, 50, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5)) > 0)
                        {
                            receives.Enqueue(clock.ElapsedMilliseconds);
                        }
                    }
                    catch (Exception e) when (e is QueueException or TimeoutException or OrleansException or OperationCanceledException)
                    {
                        // a lost lock or a call that failed: go on
                    }
                }
            });

            // A client consumer holds its first push until the kill; 19 more wait ready, and nobody sends to that queue again.
            var pushQueue = grains.GetQueue("f12-push");
            var pushConsumer = $"f12-client-{Guid.NewGuid():N}";
            var held = new TaskCompletionSource();
            var pushes = new System.Collections.Concurrent.ConcurrentQueue<long>();
            ConsumerScript.For(pushConsumer).Behavior = async (delivery, _) =>
            {
                if (delivery.Message.MessageId == "p-0")
                {
                    await held.Task;
                }

                pushes.Enqueue(clock.ElapsedMilliseconds);
            };
            var subscription = await pushQueue.SubscribeAsync(new TestClientConsumer(pushConsumer, grains), new ConsumerOptions { Prefetch = 1 });
            await pushQueue.SendBatchAsync(Enumerable.Range(0, 20).Select(i => OutgoingMessage.FromText($"push {i}", $"p-{i}")));
            await Wait.UntilAsync(() => Task.FromResult(ConsumerScript.For(pushConsumer).Deliveries.Count), n => n == 1, "the first push is held");

            await Wait.UntilAsync(() => Task.FromResult(receives.Count), n => n > 0, "messages flow before the kill");
            await Task.Delay(1000); // a second of steady traffic, so calls are in flight at the kill
            await silo.KillAsync();
            await silo.DisposeAsync();
            var killedAt = clock.ElapsedMilliseconds;
            held.SetResult();
            silo = await SiloHostProcess.StartAsync(siloPort, gatewayPort, settings); // returns once its gateway accepts connections
            var gatewayAt = clock.ElapsedMilliseconds;

            await Wait.UntilAsync(() => Task.FromResult(sends.Any(t => t > gatewayAt) && receives.Any(t => t > gatewayAt)), ok => ok,
                "a send and a receive succeed after the restart", TimeSpan.FromSeconds(60));
            var sendResumed = sends.Where(t => t > gatewayAt).Min() - gatewayAt;
            var receiveResumed = receives.Where(t => t > gatewayAt).Min() - gatewayAt;
            await Wait.UntilAsync(() => Task.FromResult(pushes.Any(t => t > gatewayAt)), ok => ok, "a push arrives after the restart", TimeSpan.FromSeconds(60));
            var pushResumed = pushes.Where(t => t > gatewayAt).Min() - gatewayAt;
            output.WriteLine($"F12: killed at {killedAt} ms, new gateway at {gatewayAt} ms; first send within {sendResumed} ms, first receive within {receiveResumed} ms and first push within {pushResumed} ms of it");
            await stop.CancelAsync();
            await Task.WhenAll(producing, receiving);

            // Drain, then check: nothing confirmed is lost. A receive cut off by the kill may have locked messages that
            // nobody got: their 5-second locks run out and they come again.
            await Wait.UntilAsync(async () =>
            {
                var rest = await queue.WaitAndReceiveAsync(TimeSpan.FromSeconds(1), 100, TimeSpan.FromSeconds(30));
                rest.ToList().ForEach(r => history.Delivered(r.Message));
                if (rest.Count > 0)
                {
                    await queue.CompleteAsync(rest.Select(r => r.LockToken));
                }

                return (await queue.GetStatsAsync()).ActiveCount;
            }, active => active == 0, "the queue is drained", TimeSpan.FromSeconds(60));

            var report = history.Check();
            output.WriteLine($"F12: {report}");
            output.WriteLine($"F12: the new silo: {string.Join(" | ", silo.Output.Split('\n').Where(l => l.Contains("Woke", StringComparison.Ordinal)))}");
            foreach (var note in notes.Take(20))
            {
                output.WriteLine($"F12: {note}");
            }

            Assert.Equal((0, 0, 0), (report.Lost, report.Unexpected, report.DuplicatedEnqueues));
            // Orleans alone would take its 30 s response timeout here; a few seconds leave room for a loaded machine.
            Assert.InRange(sendResumed, 0, 10_000);
            Assert.InRange(receiveResumed, 0, 10_000);
            Assert.InRange(pushResumed, 0, 10_000); // without the registry, the queue's reminder: up to a minute
            await subscription.DisposeAsync();
            await client.StopAsync();
        }
        finally
        {
            await silo.DisposeAsync();
        }
    }
}
