using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OrleansQueue.Tests.Infrastructure;

namespace OrleansQueue.Tests.Azurite;

/// <summary>The silo host as users run it: a process on Azurite, stopped with SIGTERM or killed with SIGKILL, then started again.</summary>
public sealed class SiloHostTests : AzuriteTest
{
    [Theory]
    [InlineData("AzureTable", "Localhost", false)]
    [InlineData("AzureBlob", "AzureTable", true)]
    public async Task MessagesSentToTheSiloHost_SurviveItsStopOrCrash(string storage, string clustering, bool crash)
    {
        var serviceId = "oq-e2e-" + Guid.NewGuid().ToString("N")[..8];
        string[] settings =
        [
            $"--Storage:Provider={storage}", $"--Storage:ConnectionString={Azurite.ConnectionString}",
            $"--Storage:TableName=e2e{Guid.NewGuid():N}"[..40], $"--Storage:ContainerName=e2e-{Guid.NewGuid():N}"[..45],
            $"--Cluster:Clustering={clustering}", $"--Cluster:ServiceId={serviceId}",
        ];
        var siloPort = Loopback.FreePort();
        var gatewayPort = Loopback.FreePort();
        var sent = new List<long>();

        await using (var silo = await SiloHostProcess.StartAsync(siloPort, gatewayPort, settings))
        {
            await using (var client = await ConnectAsync(gatewayPort, serviceId))
            {
                var queue = client.Services.GetRequiredService<IClusterClient>().GetQueue("e2e");
                sent.AddRange(await queue.SendBatchAsync(Enumerable.Range(0, 50).Select(i => OutgoingMessage.FromText($"m{i}", $"e2e-{i}"))));
                sent.Add(await queue.SendAsync("last", "e2e-last"));
            }

            if (crash)
            {
                await silo.KillAsync();
            }
            else
            {
                Assert.Equal(0, await silo.StopAsync(TimeSpan.FromSeconds(30)));
            }
        }

        await using var again = await SiloHostProcess.StartAsync(siloPort, gatewayPort, settings);
        await using var reader = await ConnectAsync(gatewayPort, serviceId);
        var queueAgain = reader.Services.GetRequiredService<IClusterClient>().GetQueue("e2e");
        var received = await queueAgain.ReceiveAsync(100);
        Assert.Equal(sent, received.Select(r => r.Message.SequenceNumber));
        Assert.Equal("last", received[^1].Message.BodyAsString());
        await queueAgain.CompleteAsync(received.Select(r => r.LockToken));
        Assert.Equal(0, (await queueAgain.GetStatsAsync()).ActiveCount);
    }

    [Fact]
    public async Task Telemetry_ExportsTheQueueMetrics_AndTheDashboardServesOnLoopback()
    {
        var serviceId = "oq-otel-" + Guid.NewGuid().ToString("N")[..8];
        var dashboardPort = Loopback.FreePort();
        var gatewayPort = Loopback.FreePort();
        await using var silo = await SiloHostProcess.StartAsync(Loopback.FreePort(), gatewayPort,
            "--Storage:Provider=Memory", $"--Cluster:ServiceId={serviceId}",
            "--Telemetry:Exporter=Console", "--Telemetry:MetricsIntervalMs=1000",
            "--Dashboard:Enabled=true", $"--Dashboard:Urls=http://127.0.0.1:{dashboardPort}");
        await using (var client = await ConnectAsync(gatewayPort, serviceId))
        {
            var queue = client.Services.GetRequiredService<IClusterClient>().GetQueue("otel");
            await queue.SendAsync("one");
            var received = await queue.ReceiveAsync(1);
            await queue.CompleteAsync(received.Select(r => r.LockToken));
        }

        // The console exporter prints every second: the queue's counters, gauges and activities appear.
        await Wait.UntilAsync(() => Task.FromResult(silo.Output), output =>
            output.Contains("orleansqueue.messages.completed", StringComparison.Ordinal) &&
            output.Contains("orleansqueue.queue.ready", StringComparison.Ordinal) &&
            output.Contains("Activity.DisplayName:        enqueue", StringComparison.Ordinal), "the exported metrics and traces");

        using var http = new HttpClient();
        var page = await http.GetStringAsync($"http://127.0.0.1:{dashboardPort}/");
        Assert.Contains("Orleans Dashboard", page, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--Telemetry:Exporter=Prometheus", "Telemetry:Exporter")]
    [InlineData("--Telemetry:MetricsIntervalMs=10", "Telemetry:MetricsIntervalMs")]
    [InlineData("--Telemetry:OtlpEndpoint=not a uri", "Telemetry:OtlpEndpoint")]
    [InlineData("--Storage:Serializer=Xml", "Storage:Serializer")]
    public async Task BadSettings_StopTheSilo_NamingTheSetting(string setting, string named)
    {
        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            SiloHostProcess.StartAsync(Loopback.FreePort(), Loopback.FreePort(), "--Storage:Provider=Memory", "--Telemetry:Exporter=Otlp", setting));
        Assert.Contains(named, failure.Message, StringComparison.Ordinal);
    }

    private static async Task<AsyncDisposableHost> ConnectAsync(int gatewayPort, string serviceId)
    {
        var host = SiloHostClient.Build([gatewayPort], serviceId);
        await host.StartAsync();
        return new AsyncDisposableHost(host);
    }

    private sealed class AsyncDisposableHost(IHost host) : IAsyncDisposable
    {
        public IServiceProvider Services => host.Services;

        public async ValueTask DisposeAsync()
        {
            await host.StopAsync();
            host.Dispose();
        }
    }
}
