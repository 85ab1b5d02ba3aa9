using System.Diagnostics;
using Orleans.Configuration;
using OrleansQueue.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansQueue.Tests.Azurite;

/// <summary>Three silos on Azure Table storage (Azurite), with fast failure detection; silos are killed mid-work.</summary>
public sealed class MultiSiloTests(ITestOutputHelper output) : AzuriteTest
{
    private QueueTestCluster _cluster = null!;

    private QueueTestCluster C => _cluster;

    public override async Task InitializeAsync()
    {
        _cluster = await QueueTestCluster.StartAsync(
            new StorageSetup(StorageKind.AzureTable, Azurite.ConnectionString),
            o => o.DefaultLockDuration = TimeSpan.FromMinutes(5), // far longer than failure detection
            silos: 3,
            configureSilo: silo =>
            {
                silo.Configure<ClusterMembershipOptions>(o =>
                {
                    o.ProbeTimeout = TimeSpan.FromSeconds(1);
                    o.NumMissedProbesLimit = 2;
                    o.NumVotesForDeathDeclaration = 1;
                    o.TableRefreshTimeout = TimeSpan.FromSeconds(1);
                    o.IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(2);
                });

                // Reminders that outlive any one silo: the backstop that wakes queues after a crash.
                silo.UseAzureTableReminderService(o => o.TableServiceClient = new Azure.Data.Tables.TableServiceClient(Azurite.ConnectionString));
            });
    }

    public override async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        await base.DisposeAsync();
    }

    /// <summary>Activates grains from <paramref name="make"/> until one lives on a silo that <paramref name="wanted"/> accepts.</summary>
    private async Task<T> PlacedAsync<T>(Func<int, T> make, Func<T, Task> activate, Func<SiloAddress, bool> wanted) where T : IAddressable
    {
        for (var i = 0; i < 200; i++)
        {
            var grain = make(i);
            await activate(grain);
            if (C.SiloOf(grain) is { } silo && wanted(silo))
            {
                return grain;
            }
        }

        throw new InvalidOperationException("No placement found on the wanted silo.");
    }

    private SiloAddress Primary => C.Cluster.Silos[0].SiloAddress;

    [Fact]
    [Trait("Category", "Fault")]
    public async Task KillingTheConsumersSilo_RedeliversItsMessages_WithinFailureDetection_NotTheAckDeadline()
    {
        var run = Guid.NewGuid().ToString("N")[..8];
        var queueGrain = await PlacedAsync(i => C.Grain($"kill-{run}-{i}"), g => g.GetStats(), s => s.Equals(Primary));
        var consumer = await PlacedAsync(i => C.Client.GetGrain<ITestConsumerGrain>($"victim-{run}-{i}"), g => g.WhereAmI(), s => !s.Equals(Primary));
        var consumerSilo = C.SiloOf(consumer)!;
        var script = ConsumerScript.For(consumer.GetPrimaryKeyString());
        var stuck = new TaskCompletionSource();
        script.Behavior = (_, _) => stuck.Task; // handler calls hang on the silo that will die

        var queue = C.Client.GetQueue(queueGrain.GetPrimaryKeyString());
        await queue.SendBatchAsync(Enumerable.Range(0, 5).Select(i => OutgoingMessage.FromText($"m{i}", $"k-{i}")));
        await queue.SubscribeAsync(consumer, new ConsumerOptions { MaxConcurrentCalls = 5 }); // a reentrant consumer: five calls at once
        await Wait.UntilAsync(() => Task.FromResult(script.Deliveries.Count), n => n == 5, "5 pushes in flight");

        script.Behavior = (_, _) => Task.CompletedTask; // the consumer, reactivated on a live silo, succeeds
        var watch = Stopwatch.StartNew();
        await C.Cluster.KillSiloAsync(C.Cluster.Silos.Single(s => s.SiloAddress.Equals(consumerSilo)));
        await Wait.UntilAsync(() => queue.GetStatsAsync(), s => s.TotalCompleted == 5, "the 5 messages are redelivered and completed", TimeSpan.FromSeconds(90));
        output.WriteLine($"Redelivered and completed {watch.Elapsed.TotalSeconds:F1} s after the consumer's silo was killed (ack deadline: 5 min, not advanced).");
        Assert.All(script.Succeeded, d => Assert.Equal(2, d.Message.DeliveryCount));
        stuck.SetResult();
    }

    [Fact]
    [Trait("Category", "Fault")]
    public async Task KillingTheDeadLetterSilo_DuringMoves_LeavesEachMessageInExactlyOnePlace()
    {
        var run = Guid.NewGuid().ToString("N")[..8];
        var deadLetters = C.Client.GetGrain<IDeadLetterGrain>(0);
        await deadLetters.GetStats();
        var deadLetterSilo = C.SiloOf(deadLetters)!;
        var queueGrain = await PlacedAsync(i => C.Grain($"poison-{run}-{i}"), g => g.GetStats(), s => !s.Equals(deadLetterSilo));
        var queue = C.Client.GetQueue(queueGrain.GetPrimaryKeyString());
        var consumer = C.Client.GetGrain<ITestConsumerGrain>($"rejecter-{run}");
        ConsumerScript.For(consumer.GetPrimaryKeyString()).Behavior = (_, _) => throw new InvalidDataException("poison");
        await queue.ConfigureAsync(new QueueSettings { MaxDeliveryCount = 1 });
        var sent = Enumerable.Range(0, 200).Select(i => $"p-{i}").ToHashSet();
        await queue.SendBatchAsync(sent.Select(id => OutgoingMessage.FromText(id, id)));
        await queue.SubscribeAsync(consumer, new ConsumerOptions { Prefetch = 20 });

        await Wait.UntilAsync(() => queue.GetStatsAsync(), s => s.TotalDeadLettered >= 20, "moves under way");
        Assert.True((await queue.GetStatsAsync()).TotalDeadLettered < 200, "the kill must come while moves are still under way");
        if (!deadLetterSilo.Equals(Primary))
        {
            await C.Cluster.KillSiloAsync(C.Cluster.Silos.Single(s => s.SiloAddress.Equals(deadLetterSilo)));
        }
        else
        {
            // The primary hosts it: stop it abruptly all the same, through its host.
            await C.Cluster.KillSiloAsync(C.Cluster.Silos[0]);
        }

        // Moves that failed are retried by the queue's timer: drive the fake clock while waiting.
        var stats = await Wait.UntilAsync(async () =>
        {
            C.Time.Advance(TimeSpan.FromSeconds(20));
            return await queue.GetStatsAsync();
        }, s => s.ActiveCount == 0 && s.TotalDeadLettered == 200, "every message has left the queue", TimeSpan.FromMinutes(2));

        var entries = new List<DeadLetterEntry>();
        await foreach (var entry in C.Client.GetDeadLetters().BrowseAllAsync(new DeadLetterFilter { SourceQueue = queue.Name }))
        {
            entries.Add(entry);
        }

        var ids = entries.Select(e => e.Message.MessageId).ToList();
        output.WriteLine($"{stats}; entries {entries.Count}, distinct {ids.Distinct().Count()}; dead-letter silo was primary: {deadLetterSilo.Equals(Primary)}");
        Assert.Equal(ids.Count, ids.Distinct().Count()); // never twice in the dead-letter grain
        Assert.True(sent.SetEquals(ids)); // never lost: each is in the dead-letter grain, none left in the queue
        Assert.Equal(200, stats.TotalDeadLettered);
    }

    [Fact]
    public async Task AClientSubscription_SurvivesTheQueueSilosDeath()
    {
        var run = Guid.NewGuid().ToString("N")[..8];
        var queueGrain = await PlacedAsync(i => C.Grain($"sub-{run}-{i}"), g => g.GetStats(), s => !s.Equals(Primary));
        var queueSilo = C.SiloOf(queueGrain)!;
        var queue = C.Client.GetQueue(queueGrain.GetPrimaryKeyString());
        var name = $"client-{run}";
        await using var subscription = await queue.SubscribeAsync(new TestClientConsumer(name, C.Client));
        await queue.SendAsync("before");
        await Wait.UntilAsync(() => Task.FromResult(ConsumerScript.For(name).Succeeded.Count), n => n == 1, "pushed before the kill");

        await C.Cluster.KillSiloAsync(C.Cluster.Silos.Single(s => s.SiloAddress.Equals(queueSilo)));
        await queue.SendAsync("after"); // reactivates the queue on a live silo, which loads its subscriptions
        await Wait.UntilAsync(() => Task.FromResult(ConsumerScript.For(name).Succeeded.Count), n => n == 2, "pushed after the kill", TimeSpan.FromSeconds(60));
        Assert.Equal(["before", "after"], ConsumerScript.For(name).Succeeded.Select(d => d.Message.BodyAsString()));
    }

    [Fact]
    public async Task AfterTheQueuesSiloDies_TheRegistryWakesTheQueueAtOnce_AndPushesResume_WithoutAnyCaller()
    {
        var run = Guid.NewGuid().ToString("N")[..8];
        var queueGrain = await PlacedAsync(i => C.Grain($"wake-{run}-{i}"), g => g.GetStats(), s => !s.Equals(Primary));
        var queueSilo = C.SiloOf(queueGrain)!;
        var consumer = await PlacedAsync(i => C.Client.GetGrain<ITestConsumerGrain>($"sleeper-{run}-{i}"), g => g.WhereAmI(), s => !s.Equals(queueSilo));
        var script = ConsumerScript.For(consumer.GetPrimaryKeyString());
        var hold = new TaskCompletionSource();
        script.Behavior = (_, _) => hold.Task;
        var queue = C.Client.GetQueue(queueGrain.GetPrimaryKeyString());
        await queue.SendBatchAsync(Enumerable.Range(0, 6).Select(i => OutgoingMessage.FromText($"m{i}", $"w-{i}")));
        await queue.SubscribeAsync(consumer, new ConsumerOptions { Prefetch = 1 }); // 1 in flight, 5 ready
        await Wait.UntilAsync(() => Task.FromResult(script.Deliveries.Count), n => n == 1, "one push in flight");

        var watch = Stopwatch.StartNew();
        await C.Cluster.KillSiloAsync(C.Cluster.Silos.Single(s => s.SiloAddress.Equals(queueSilo)));
        script.Behavior = (_, _) => Task.CompletedTask;
        hold.SetResult();

        // Nobody calls the queue. The surviving silos see its silo die (failure detection takes a few seconds here)
        // and wake every queue the registry lists with subscribers; its reminder would only come a minute after the
        // subscription, too late for the bound below.
        await Wait.UntilAsync(() => Task.FromResult(script.Succeeded.Count(d => d.Message.MessageId != "w-0")), n => n == 5,
            "the 5 ready messages are pushed after the queue is woken", TimeSpan.FromMinutes(3));
        output.WriteLine($"Pushes resumed {watch.Elapsed.TotalSeconds:F1} s after the queue's silo died, with no caller.");
        Assert.InRange(watch.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(30));
    }
}
