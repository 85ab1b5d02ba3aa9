using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using OrleansQueue;
using OrleansQueue.Benchmarks;
using OrleansQueue.Tests.Infrastructure;

// Enqueue throughput of one producer against the silo host on Azure Table storage (Azurite), over the gateway:
// awaiting each send, then with 1,000 sends in flight; then the drain rate (receive 1,000 + complete);
// then push consumers (3 grains, prefetch 100, auto-complete) in a silo of this process on the same storage.
// Run it alone on the machine:  dotnet run -c Release --project tests/OrleansQueue.Benchmarks -- [messages]
var messages = args.Length > 0 ? int.Parse(args[0]) : 20_000;
var sequentialMessages = Math.Max(1, messages / 10);
var body = new byte[256];

await using var azurite = new AzuriteFixture();
var siloPort = Loopback.FreePort();
var gatewayPort = Loopback.FreePort();
await using var silo = await SiloHostProcess.StartAsync(siloPort, gatewayPort,
    $"--Storage:ConnectionString={azurite.ConnectionString}", "--Storage:Provider=AzureTable");

using var client = new HostBuilder()
    .UseOrleansClient(c =>
    {
        c.UseStaticClustering(new IPEndPoint(IPAddress.Loopback, gatewayPort));
        c.Configure<ClusterOptions>(o => (o.ServiceId, o.ClusterId) = ("orleans-queue", "orleans-queue-dev"));
    })
    .Build();
await client.StartAsync();
var factory = client.Services.GetRequiredService<IClusterClient>();

// Warm up: activation, storage connections, JIT.
var warm = factory.GetQueue("bench-warmup");
await Task.WhenAll(Enumerable.Range(0, 2000).Select(_ => warm.SendAsync(new OutgoingMessage(body))));

var results = new List<(string Name, int Count, double Seconds)>();

var sequential = factory.GetQueue("bench-sequential");
var watch = Stopwatch.StartNew();
for (var i = 0; i < sequentialMessages; i++)
{
    await sequential.SendAsync(new OutgoingMessage(body));
}

results.Add(("enqueue, awaiting each send", sequentialMessages, watch.Elapsed.TotalSeconds));

var pipelined = factory.GetQueue("bench-pipelined");
watch.Restart();
await PushBenchmark.SendPipelinedAsync(pipelined, messages, body, inFlight: 1000);
results.Add(("enqueue, 1,000 sends in flight", messages, watch.Elapsed.TotalSeconds));

watch.Restart();
var drained = 0;
while ((await pipelined.ReceiveAsync(1000)) is { Count: > 0 } batch)
{
    await pipelined.CompleteAsync(batch.Select(b => b.LockToken));
    drained += batch.Count;
}

results.Add(("drain, receive 1,000 + complete", drained, watch.Elapsed.TotalSeconds));
await client.StopAsync();
await silo.StopAsync(TimeSpan.FromSeconds(30));

// Push: consumer grains in a silo of this process (same Azurite), auto-complete.
results.AddRange(await PushBenchmark.RunAsync(azurite.ConnectionString, messages));

Console.WriteLine($"OrleansQueue on Azure Table (Azurite 3.37.0), 256-byte messages, {Environment.ProcessorCount} cores");
Console.WriteLine();
Console.WriteLine("| workload | messages | seconds | msgs/s |");
Console.WriteLine("|---|---:|---:|---:|");
foreach (var (name, count, seconds) in results)
{
    Console.WriteLine($"| {name} | {count:N0} | {seconds:F2} | {count / seconds:N0} |");
}

if (drained != messages || results.Any(r => r.Count != messages && r.Name.StartsWith("push", StringComparison.Ordinal)))
{
    Console.Error.WriteLine($"Drained {drained} messages, expected {messages}.");
    return 1;
}

return 0;
