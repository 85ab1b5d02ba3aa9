using System.Net;
using Azure.Data.Tables;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OrleansQueue;
using OrleansQueue.Hosting;
using OrleansQueue.Options;
using WorkQueue;

// Several consumer grains share one queue; one message always fails and ends in the dead-letter grain.
// This program is an application silo: it joins the silo host's cluster (primary silo 127.0.0.1:11111) to host its
// worker grains, with the same storage (Azurite) registered the same way, then sends jobs and watches them being handled.
var builder = Host.CreateApplicationBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
var connectionString = builder.Configuration["Storage:ConnectionString"]
    ?? "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;";
// The same encoding as the silo host (its Storage:Serializer, Binary by default): both silos read and write the same records.
var encoding = builder.Configuration.GetValue("Storage:Serializer", QueueStorageEncoding.Binary);
var siloPort = builder.Configuration.GetValue("Silo:Port", 11112);
var gatewayPort = builder.Configuration.GetValue("Silo:GatewayPort", 30001);
var primarySiloPort = builder.Configuration.GetValue("Silo:PrimarySiloPort", 11111);
builder.UseOrleans(silo =>
{
    silo.UseLocalhostClustering(siloPort, gatewayPort, new IPEndPoint(IPAddress.Loopback, primarySiloPort), "orleans-queue", "orleans-queue-dev");
    silo.AddOrleansQueueAzureTableStorage(o =>
    {
        o.TableServiceClient = new TableServiceClient(connectionString);
        o.TableName = "OrleansQueue";
    }, encoding);
    silo.UseAzureTableReminderService(o =>
    {
        o.TableServiceClient = new TableServiceClient(connectionString);
        o.TableName = "OrleansQueueReminders";
    });
    silo.AddOrleansQueue();
});
using var host = builder.Build();
await host.StartAsync();
var grains = host.Services.GetRequiredService<IGrainFactory>();

var queue = grains.GetQueue("work");
await queue.ConfigureAsync(new QueueSettings
{
    MaxDeliveryCount = 3,
    Redelivery = RedeliveryPolicy.Exponential(TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(2)),
});
var subscriptions = new List<QueueSubscription>();
for (var i = 1; i <= 3; i++)
{
    subscriptions.Add(await queue.SubscribeAsync(grains.GetGrain<IWorkerGrain>($"worker-{i}"), new ConsumerOptions { Prefetch = 4 }));
}

var run = DateTime.UtcNow.ToString("HHmmss");
var jobs = Enumerable.Range(1, 12).Select(i => OutgoingMessage.FromText(i == 7 ? "poison" : $"job {i}", $"job-{run}-{i}")).ToList();
await queue.SendBatchAsync(jobs);
Console.WriteLine($"Sent {jobs.Count} jobs to queue 'work' (job 7 is poison), 3 worker grains subscribed.");

var deadline = DateTime.UtcNow.AddSeconds(60);
while (DateTime.UtcNow < deadline)
{
    var stats = await queue.GetStatsAsync();
    if (stats.ActiveCount == 0)
    {
        Console.WriteLine($"Done: {stats.TotalCompleted} completed, {stats.TotalDeadLettered} dead-lettered in all.");
        break;
    }

    await Task.Delay(200);
}

await foreach (var entry in grains.GetDeadLetters().BrowseAllAsync(new DeadLetterFilter { SourceQueue = "work" }))
{
    if (entry.Message.MessageId.StartsWith($"job-{run}-", StringComparison.Ordinal))
    {
        Console.WriteLine($"Dead-letter entry {entry.EntryId}: '{entry.Message.BodyAsString()}' ({entry.Reason}, {entry.Message.DeliveryCount} deliveries, last error {entry.LastExceptionType}: {entry.LastExceptionMessage})");
    }
}

// The worker grains live only in this silo: unsubscribe them before it leaves the cluster.
foreach (var subscription in subscriptions)
{
    await subscription.DisposeAsync();
}

await host.StopAsync();
