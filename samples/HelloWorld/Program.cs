using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OrleansQueue;

// The classic "Hello World!" over a durable queue: a producer sends, a consumer receives and completes.
// Connects to the silo host's gateway on 127.0.0.1 (port 30000, or --Gateway:Port=N).
var builder = Host.CreateApplicationBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
var gatewayPort = builder.Configuration.GetValue("Gateway:Port", 30000);
builder.UseOrleansClient(client => client.UseLocalhostClustering(gatewayPort, "orleans-queue", "orleans-queue-dev").AddOrleansQueueClient());
using var host = builder.Build();
await host.StartAsync();

var queue = host.Services.GetRequiredService<IClusterClient>().GetQueue("hello-world");

// Producer: the returned sequence number is the confirm that the message is durably stored.
var sequenceNumber = await queue.SendAsync("Hello World!");
Console.WriteLine($"Sent 'Hello World!' as message #{sequenceNumber}");

// Consumer: lease the message, handle it, complete it. Older messages (from earlier runs) are handled too.
var deadline = DateTime.UtcNow.AddSeconds(30);
while (DateTime.UtcNow < deadline)
{
    var received = await queue.ReceiveAsync(maxMessages: 10, lockDuration: TimeSpan.FromSeconds(30));
    foreach (var delivery in received)
    {
        Console.WriteLine($"Received '{delivery.Message.BodyAsString()}' (message #{delivery.Message.SequenceNumber}, delivery {delivery.Message.DeliveryCount})");
        await queue.CompleteAsync(delivery);
    }

    if (received.Any(d => d.Message.SequenceNumber == sequenceNumber))
    {
        var stats = await queue.GetStatsAsync();
        Console.WriteLine($"Completed. Queue '{queue.Name}': {stats.ActiveCount} left, {stats.TotalCompleted} completed in all.");
        await host.StopAsync();
        return 0;
    }

    if (received.Count == 0)
    {
        await Task.Delay(100);
    }
}

Console.Error.WriteLine("The message did not come back within 30 seconds.");
await host.StopAsync();
return 1;
