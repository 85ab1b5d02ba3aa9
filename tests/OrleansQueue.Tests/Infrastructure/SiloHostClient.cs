using System.Net;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;

namespace OrleansQueue.Tests.Infrastructure;

/// <summary>An Orleans client of silo-host processes (<see cref="SiloHostProcess"/>): their gateways by port, their cluster id.</summary>
public static class SiloHostClient
{
    /// <summary>The silo host's default service id.</summary>
    public const string DefaultServiceId = "orleans-queue";

    /// <summary>A client host (not started) of the silos behind <paramref name="gatewayPorts"/> on 127.0.0.1.</summary>
    public static IHost Build(IEnumerable<int> gatewayPorts, string serviceId = DefaultServiceId, Action<IClientBuilder>? configure = null) =>
        new HostBuilder().UseOrleansClient(client =>
        {
            client.UseStaticClustering(gatewayPorts.Select(port => new IPEndPoint(IPAddress.Loopback, port)).ToArray());
            client.Configure<ClusterOptions>(o => (o.ServiceId, o.ClusterId) = (serviceId, "orleans-queue-dev"));
            configure?.Invoke(client);
        }).Build();
}
