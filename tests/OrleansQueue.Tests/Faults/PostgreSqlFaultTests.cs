using System.Diagnostics;
using Orleans.Runtime;
using OrleansQueue.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansQueue.Tests.Faults;

/// <summary>
/// Crash tests PostgreSQL makes meaningful: it commits to its write-ahead log before it answers, so a SIGKILL of the
/// database loses nothing it confirmed, and neither may OrleansQueue.
/// </summary>
[Trait("Category", "Fault")]
public sealed class PostgreSqlFaultTests(ITestOutputHelper output)
{
    [Fact]
    public async Task P1_TheDatabaseKilledMidStreamAndRestarted_EveryConfirmedMessageIsThere()
    {
        await using var postgres = await PostgreSqlFixture.StartAsync();
        await using var cluster = await QueueTestCluster.StartAsync(new StorageSetup(StorageKind.PostgreSql, postgres.ConnectionString));
        var queue = cluster.Client.GetQueue("p1", new QueueClientOptions { SendAttempts = 1 });
        var history = new History();
        var confirmed = 0;
        var killed = 0;
        Task outage = Task.CompletedTask;
        var down = new Stopwatch();

        // Producers and a consumer run together; when 2,000 sends are confirmed, the database is SIGKILLed with
        // writes in flight, stays down for a few seconds, and starts again (crash recovery from its WAL).
        using var stop = new CancellationTokenSource();
        var consuming = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    if (await Workload.ReceiveAndCompleteAsync(queue, history, 100, TimeSpan.FromMinutes(5)) == 0)
                    {
                        await Task.Delay(20); // a polling consumer's pause when the queue is empty
                    }
                }
                catch (Exception e) when (e is QueueException or TimeoutException or OrleansException)
                {
                    // storage is down: what this call locked comes back (the test's clock expires the locks)
                }
            }
        });
        await Workload.ProduceAsync(queue, history, 6_000, inFlight: 100, "p1", onSent: _ =>
        {
            if (Interlocked.Increment(ref confirmed) == 2_000 && Interlocked.Exchange(ref killed, 1) == 0)
            {
                outage = Task.Run(async () =>
                {
                    await postgres.KillAsync();
                    down.Start();
                    await Task.Delay(TimeSpan.FromSeconds(3)); // an outage, not a fact to wait for
                    await postgres.StartServerAsync();
                    down.Stop();
                });
            }
        });
        await outage;
        await stop.CancelAsync();
        await consuming;

        // A producer sends again what was not confirmed, with the same ids: duplicate detection keeps one copy.
        var retried = 0;
        foreach (var id in history.Unconfirmed)
        {
            await Wait.UntilAsync(async () =>
            {
                try
                {
                    await queue.SendAsync(OutgoingMessage.FromText(id, id));
                    return true;
                }
                catch (Exception e) when (e is QueueException or TimeoutException or OrleansException)
                {
                    return false;
                }
            }, sent => sent, $"{id} is sent again", TimeSpan.FromSeconds(60));
            history.Sent(id, SendOutcome.Ok);
            retried++;
        }

        cluster.Time.Advance(TimeSpan.FromMinutes(6)); // locks the consumer held when storage went away run out
        await Workload.DrainAsync(cluster, queue, history, TimeSpan.FromMinutes(3));
        var report = history.Check();
        output.WriteLine($"P1: {report}; database down {down.Elapsed.TotalSeconds:F1} s; {retried} unconfirmed sends made again");
        Assert.Equal(1, killed);
        Assert.Equal((0, 0, 0, 0), (report.Lost, report.Unexpected, report.DuplicatedEnqueues, report.DuplicatedCompletions));
    }
}
