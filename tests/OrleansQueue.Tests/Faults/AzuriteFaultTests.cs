using System.Diagnostics;
using Orleans.Configuration;
using OrleansQueue.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansQueue.Tests.Faults;

/// <summary>Fault tests against real storage (Azurite): a silo killed mid-run, storage stopped or killed mid-run.</summary>
[Trait("Category", "Fault")]
public sealed class AzuriteFaultTests(ITestOutputHelper output) : AzuriteTest
{
    private Task<QueueTestCluster> StartAsync(short silos, StorageSetup? storage = null) => QueueTestCluster.StartAsync(
        storage ?? new StorageSetup(StorageKind.AzureTable, Azurite.ConnectionString),
        silos: silos,
        configureSilo: silo => silo.Configure<ClusterMembershipOptions>(o =>
        {
            o.ProbeTimeout = TimeSpan.FromSeconds(1);
            o.NumMissedProbesLimit = 2;
            o.NumVotesForDeathDeclaration = 1;
            o.TableRefreshTimeout = TimeSpan.FromSeconds(1);
            o.IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(2);
        }));

    [Fact]
    public async Task F1_TheQueuesSiloKilledHalfwayAndRestarted_NothingLostNothingUnexpected()
    {
        await using var cluster = await StartAsync(3);
        var primary = cluster.Cluster.Silos[0].SiloAddress;
        QueueClient? queue = null;
        for (var i = 0; queue is null; i++)
        {
            var grain = cluster.Grain($"f1-{i}");
            await grain.GetStats();
            if (cluster.SiloOf(grain) is { } silo && !silo.Equals(primary))
            {
                queue = cluster.Client.GetQueue($"f1-{i}", new QueueClientOptions { SendAttempts = 5 });
            }
        }

        var queueSilo = cluster.SiloOf(cluster.Grain(queue.Name))!;
        var history = new History();
        var killed = 0;
        var sent = 0;
        var watch = new Stopwatch();
        Task restart = Task.CompletedTask;
        var producing = Workload.ProduceAsync(queue, history, 10_000, inFlight: 100, "f1", onSent: _ =>
        {
            if (Interlocked.Increment(ref sent) == 5_000 && Interlocked.Exchange(ref killed, 1) == 0)
            {
                watch.Start();
                restart = Task.Run(async () =>
                {
                    await cluster.Cluster.KillSiloAsync(cluster.Cluster.Silos.Single(s => s.SiloAddress.Equals(queueSilo)));
                    await cluster.Cluster.StartAdditionalSiloAsync();
                });
            }
        });
        var draining = Workload.DrainAsync(cluster, queue, history, TimeSpan.FromMinutes(3));
        await producing;
        await Wait.UntilAsync(() => Task.FromResult(killed), k => k == 1, "the kill happened");
        await restart;
        await Workload.DrainAsync(cluster, queue, history, TimeSpan.FromMinutes(3));
        await draining;

        var report = history.Check();
        output.WriteLine($"F1: {report}; drained {watch.Elapsed.TotalSeconds:F1} s after the kill");
        Assert.Equal((0, 0, 0), (report.Lost, report.Unexpected, report.DuplicatedEnqueues));
    }

    [Fact]
    public async Task F3_StorageStoppedFor10Seconds_NothingLost_RetriesLeaveOneCopy_ThroughputResumes()
    {
        await using var cluster = await StartAsync(1);
        var queue = cluster.Client.GetQueue("f3", new QueueClientOptions { SendAttempts = 1 });
        var history = new History();
        await Workload.ProduceAsync(queue, history, 500, inFlight: 50, "f3-before");

        // Storage goes away (gracefully: Azurite saves its data), producers keep sending.
        await Azurite.StopAsync();
        var slowest = TimeSpan.Zero;
        var outage = Stopwatch.StartNew();
        var during = new List<string>();
        while (outage.Elapsed < TimeSpan.FromSeconds(10))
        {
            var id = $"f3-during-{during.Count}";
            during.Add(id);
            var call = Stopwatch.StartNew();
            try
            {
                await queue.SendAsync(OutgoingMessage.FromText(id, id));
                history.Sent(id, SendOutcome.Ok);
            }
            catch (Exception e) when (e is QueueException or TimeoutException or Orleans.Runtime.OrleansException)
            {
                history.Sent(id, SendOutcome.Failed);
            }

            slowest = call.Elapsed > slowest ? call.Elapsed : slowest;
        }

        await Azurite.StartAsync();
        var back = Stopwatch.StartNew();
        var resumed = await Wait.UntilAsync(async () =>
        {
            try
            {
                await queue.SendAsync(OutgoingMessage.FromText("probe", "f3-probe"));
                return back.Elapsed;
            }
            catch (Exception e) when (e is QueueException or TimeoutException or Orleans.Runtime.OrleansException)
            {
                return TimeSpan.MaxValue;
            }
        }, t => t != TimeSpan.MaxValue, "sends succeed again", TimeSpan.FromSeconds(60));
        history.Sent("f3-probe", SendOutcome.Ok);

        // Producers retry what failed, with the same ids.
        foreach (var id in during)
        {
            await queue.SendAsync(OutgoingMessage.FromText(id, id));
            history.Sent(id, SendOutcome.Ok);
        }

        await Workload.DrainAsync(cluster, queue, history);
        var report = history.Check();
        output.WriteLine($"F3: {report}; slowest call during the outage {slowest.TotalSeconds:F1} s; sends resumed {resumed.TotalSeconds:F1} s after storage returned");
        Assert.Equal((0, 0, 0), (report.Lost, report.Unexpected, report.DuplicatedEnqueues));
        Assert.True(slowest < TimeSpan.FromSeconds(31), $"a call hung {slowest}");
        Assert.True(resumed < TimeSpan.FromSeconds(20), $"throughput resumed after {resumed}");
    }

    [Fact]
    public async Task F4_StorageKilled_NoSiloWedged_RecoversWithin30Seconds_AndReportsWhatAzuriteDropped()
    {
        var storage = new StorageSetup(StorageKind.AzureTable, Azurite.ConnectionString);
        await using var cluster = await StartAsync(1, storage);
        var queue = cluster.Client.GetQueue("f4");
        var history = new History();

        // The Orleans table provider creates its table once, at start-up; a table Azurite never saved would be gone
        // for good. So the table (not our messages) must be on disk before the kill.
        await queue.SendAsync("warm-up", "f4-warm-up");
        history.Sent("f4-warm-up", SendOutcome.Ok);
        await Wait.UntilAsync(() => Task.FromResult(Azurite.SavedTablesContain(storage.Location)), saved => saved, "Azurite saved the table", TimeSpan.FromSeconds(30));
        await Workload.ProduceAsync(queue, history, 2_000, inFlight: 100, "f4");

        await Azurite.KillAsync(); // Azurite's own loss: tables it had not saved yet
        await Azurite.StartAsync();
        var back = Stopwatch.StartNew();
        await Wait.UntilAsync(async () =>
        {
            try
            {
                await queue.SendAsync(OutgoingMessage.FromText("probe", "f4-probe"));
                return true;
            }
            catch (Exception e) when (e is QueueException or TimeoutException or Orleans.Runtime.OrleansException)
            {
                return false;
            }
        }, ok => ok, "the queue works again", TimeSpan.FromSeconds(30));
        var recovered = back.Elapsed;
        history.Sent("f4-probe", SendOutcome.Ok);

        await Workload.DrainAsync(cluster, queue, history);
        var report = history.Check();
        output.WriteLine($"F4: {report}; recovered {recovered.TotalSeconds:F1} s after Azurite restarted; confirmed messages Azurite dropped: {report.Lost}");
        Assert.Equal((0, 0), (report.Unexpected, report.DuplicatedEnqueues));
        Assert.True(recovered < TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task F11_Chaos_4Silos_ASecondaryKilledOrStoppedEvery20Seconds_For3Minutes_NothingLost()
    {
        await using var cluster = await StartAsync(4);
        var queue = cluster.Client.GetQueue("f11", new QueueClientOptions { SendAttempts = 10, RetryDelay = TimeSpan.FromMilliseconds(500) });
        var history = new History();
        var random = new Random(11);
        var started = Stopwatch.StartNew();
        var chaosEvents = new List<string>();

        var producing = Task.Run(async () =>
        {
            for (var chunk = 0; chunk < 100; chunk++) // 100 × 200 = 20,000 messages, spread over the 3 minutes
            {
                await Workload.ProduceAsync(queue, history, 200, inFlight: 20, $"f11-{chunk}");
                var due = TimeSpan.FromSeconds(1.7 * (chunk + 1));
                if (started.Elapsed < due)
                {
                    await Task.Delay(due - started.Elapsed); // pacing the producer, not waiting for an effect
                }
            }
        });

        var chaos = Task.Run(async () =>
        {
            var primary = cluster.Cluster.Silos[0];
            while (started.Elapsed < TimeSpan.FromMinutes(3))
            {
                await Task.Delay(TimeSpan.FromSeconds(20)); // the chaos schedule
                var secondaries = cluster.Cluster.GetActiveSilos().Where(s => s != primary).ToList();
                var victim = secondaries[random.Next(secondaries.Count)];
                var kill = random.Next(2) == 0;
                if (kill)
                {
                    await cluster.Cluster.KillSiloAsync(victim);
                }
                else
                {
                    await cluster.Cluster.StopSiloAsync(victim);
                }

                await cluster.Cluster.StartAdditionalSiloAsync();
                chaosEvents.Add($"{(kill ? "killed" : "stopped")} {victim.SiloAddress} at {started.Elapsed.TotalSeconds:F0} s");
            }
        });

        // Consume while all this goes on, then drain.
        while (!producing.IsCompleted)
        {
            try
            {
                if (await Workload.ReceiveAndCompleteAsync(queue, history) == 0)
                {
                    // Lets locks of a lost consumer call expire. Paced, not waiting for an effect: a receive of an empty
                    // queue returns at once, and without the pause the fake clock ran past the 10-minute duplicate
                    // detection window between a send and its retry, so a retried send whose first try was stored
                    // was stored again (one run in many).
                    cluster.Time.Advance(TimeSpan.FromSeconds(1));
                    await Task.Delay(20);
                }
            }
            catch (Exception e) when (e is QueueException or TimeoutException or Orleans.Runtime.OrleansException)
            {
                cluster.Time.Advance(TimeSpan.FromSeconds(31));
            }
        }

        await producing;
        await chaos;
        await Workload.DrainAsync(cluster, queue, history, TimeSpan.FromMinutes(3));
        var report = history.Check();
        output.WriteLine($"F11: {report}; chaos: {string.Join("; ", chaosEvents)}");
        Assert.True(chaosEvents.Count >= 8, "the chaos ran");
        Assert.Equal((0, 0, 0), (report.Lost, report.Unexpected, report.DuplicatedEnqueues));
    }
}
