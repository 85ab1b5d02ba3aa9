using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OrleansQueue;

// Inspect the dead-letter grain and send entries back: counts by reason and queue, the entries of queue 'work',
// then a redrive to the queue 'work-retry' (keeping message ids), where this program receives and completes them.
var builder = Host.CreateApplicationBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
var gatewayPort = builder.Configuration.GetValue("Gateway:Port", 30000);
builder.UseOrleansClient(client => client.UseLocalhostClustering(gatewayPort, "orleans-queue", "orleans-queue-dev").AddOrleansQueueClient());
using var host = builder.Build();
await host.StartAsync();
var client = host.Services.GetRequiredService<IClusterClient>();
var deadLetters = client.GetDeadLetters();

var stats = await deadLetters.GetStatsAsync();
Console.WriteLine($"Dead-letter grain: {stats.Count} entries");
foreach (var (reason, count) in stats.CountByReason)
{
    Console.WriteLine($"  {reason}: {count}");
}

foreach (var (queue, count) in stats.CountBySourceQueue)
{
    Console.WriteLine($"  from '{queue}': {count}");
}

var fromWork = new DeadLetterFilter { SourceQueue = "work" };
await foreach (var entry in deadLetters.BrowseAllAsync(fromWork))
{
    Console.WriteLine($"Entry {entry.EntryId}: {entry.Message.MessageId} '{entry.Message.BodyAsString()}' — {entry.Reason}: {entry.Description} (attempts at {string.Join(", ", entry.Attempts.Select(a => a.ToString("HH:mm:ss.fff")))})");
}

var redriven = await deadLetters.RedriveAsync(fromWork, targetQueue: "work-retry", messagesPerSecond: 50);
Console.WriteLine($"Redrove {redriven} entries to 'work-retry'.");

var retry = client.GetQueue("work-retry");
var received = 0;
while (received < redriven)
{
    var batch = await retry.WaitAndReceiveAsync(TimeSpan.FromSeconds(5), maxMessages: 100);
    if (batch.Count == 0)
    {
        break;
    }

    foreach (var delivery in batch)
    {
        Console.WriteLine($"Back in 'work-retry': {delivery.Message.MessageId} '{delivery.Message.BodyAsString()}' (delivery {delivery.Message.DeliveryCount})");
        await retry.CompleteAsync(delivery);
        received++;
    }
}

await host.StopAsync();
