using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OrleansQueue.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansQueue.Tests.Faults;

/// <summary>F2: real silo-host processes with Azure Table membership on Azurite; the queue's process is SIGKILLed twice.</summary>
[Trait("Category", "Fault")]
public sealed class ProcessFaultTests(ITestOutputHelper output) : AzuriteTest
{
    [Fact]
    public async Task F2_TheQueuesProcessKilledTwice_30SecondsApart_NothingLostNothingUnexpected()
    {
        var serviceId = "oq-f2-" + Guid.NewGuid().ToString("N")[..6];
        string[] settings =
        [
            $"--Storage:ConnectionString={Azurite.ConnectionString}", "--Cluster:Clustering=AzureTable",
            $"--Cluster:ServiceId={serviceId}", $"--Storage:TableName=f2{Guid.NewGuid():N}"[..36],
        ];
        var ports = Enumerable.Range(0, 2).Select(_ => (Silo: Loopback.FreePort(), Gateway: Loopback.FreePort())).ToArray();
        var silos = new SiloHostProcess?[2];
        try
        {
            for (var i = 0; i < 2; i++)
            {
                silos[i] = await SiloHostProcess.StartAsync(ports[i].Silo, ports[i].Gateway, settings);
            }

            using var client = SiloHostClient.Build(ports.Select(p => p.Gateway), serviceId);
            await client.StartAsync();
            var grains = client.Services.GetRequiredService<IClusterClient>();
            var queue = grains.GetQueue("f2", new QueueClientOptions { SendAttempts = 10, RetryDelay = TimeSpan.FromMilliseconds(500) });
            var history = new History();

            async Task KillQueueProcessAsync()
            {
                // The directory may not know the activation for a moment after a membership change: touch and ask again.
                var address = await Wait.UntilAsync(async () =>
                {
                    try
                    {
                        await grains.GetGrain<IQueueGrain>("f2").GetStats();
                        return await grains.GetGrain<IManagementGrain>(0).GetActivationAddress(grains.GetGrain<IQueueGrain>("f2"));
                    }
                    catch (Exception e) when (e is QueueException or TimeoutException or Orleans.Runtime.OrleansException)
                    {
                        return null;
                    }
                }, a => a is not null && ports.Any(p => p.Silo == a.Endpoint.Port), "the queue's silo is known", TimeSpan.FromSeconds(30));
                var index = Array.FindIndex(ports, p => p.Silo == address!.Endpoint.Port);
                await silos[index]!.KillAsync();
                await silos[index]!.DisposeAsync();
                output.WriteLine($"SIGKILLed silo {index} (port {ports[index].Silo}), which hosted the queue");
                silos[index] = await SiloHostProcess.StartAsync(ports[index].Silo, ports[index].Gateway, settings);
            }

            // Produce for 45 s in chunks; the queue's process is killed at about 5 s and again 30 s later.
            var started = DateTime.UtcNow;
            var producing = Task.Run(async () =>
            {
                for (var chunk = 0; DateTime.UtcNow - started < TimeSpan.FromSeconds(45); chunk++)
                {
                    await Workload.ProduceAsync(queue, history, 50, inFlight: 10, $"f2-{chunk}");
                }
            });
            await Wait.UntilAsync(() => Task.FromResult(DateTime.UtcNow - started), t => t > TimeSpan.FromSeconds(5), "5 s of production", TimeSpan.FromSeconds(10));
            await KillQueueProcessAsync();
            var first = DateTime.UtcNow;
            await Wait.UntilAsync(() => Task.FromResult(DateTime.UtcNow - first), t => t > TimeSpan.FromSeconds(30), "30 s later", TimeSpan.FromSeconds(40));
            await KillQueueProcessAsync();
            await producing;

            // The drain's consumer is this test; its fake-clock hook is not needed: leases are real-time here.
            var deadline = DateTime.UtcNow.AddMinutes(3);
            while (DateTime.UtcNow < deadline)
            {
                try
                {
                    if (await Workload.ReceiveAndCompleteAsync(queue, history, 100, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(2)) == 0
                        && (await queue.GetStatsAsync()).ActiveCount == 0)
                    {
                        break;
                    }
                }
                catch (Exception e) when (e is QueueException or TimeoutException or Orleans.Runtime.OrleansException)
                {
                    // a lost lease or a moving queue: go on
                }
            }

            var report = history.Check();
            output.WriteLine($"F2: {report}");
            Assert.Equal((0, 0, 0), (report.Lost, report.Unexpected, report.DuplicatedEnqueues));
            await client.StopAsync();
        }
        finally
        {
            foreach (var silo in silos)
            {
                if (silo is not null)
                {
                    await silo.DisposeAsync();
                }
            }
        }
    }
}
