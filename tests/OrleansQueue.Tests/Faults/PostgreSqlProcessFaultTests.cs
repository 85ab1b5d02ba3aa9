using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using Orleans.Configuration;
using Orleans.Runtime;
using OrleansQueue.Hosting;
using OrleansQueue.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansQueue.Tests.Faults;

/// <summary>
/// Crash tests of silo-host processes on a cluster that runs on PostgreSQL alone (queue data, membership and reminders:
/// <c>--Storage:Provider=PostgreSql --Cluster:Clustering=PostgreSql</c>), with failure detection shortened through
/// <c>Orleans:ClusterMembership</c>. A silo is SIGKILLed mid-stream; what a producer was told is stored must be
/// delivered, and nothing may be stored twice.
/// </summary>
[Trait("Category", "Fault")]
public sealed class PostgreSqlProcessFaultTests(ITestOutputHelper output)
{
    /// <summary>How long consumers lock what they receive: leases held by a killed silo's receives run out in this.</summary>
    private static readonly TimeSpan LockDuration = TimeSpan.FromSeconds(10);

    private static readonly QueueClientOptions SendOptions = new() { SendAttempts = 8, RetryDelay = TimeSpan.FromMilliseconds(250) };

    private readonly ConcurrentDictionary<string, int> _failures = new();

    /// <summary>The silo host's command line: everything on PostgreSQL, a dead silo declared dead within seconds.</summary>
    private static string[] SiloSettings(PostgreSqlFixture postgres) =>
    [
        "--Storage:Provider=PostgreSql", $"--Storage:ConnectionString={postgres.ConnectionString}", "--Cluster:Clustering=PostgreSql",
        "--Orleans:ClusterMembership:ProbeTimeout=00:00:01", "--Orleans:ClusterMembership:NumMissedProbesLimit=2",
        "--Orleans:ClusterMembership:NumVotesForDeathDeclaration=1", "--Orleans:ClusterMembership:TableRefreshTimeout=00:00:01",
        "--Orleans:ClusterMembership:IAmAliveTablePublishTimeout=00:00:02",
    ];

    [Fact]
    public async Task P2_TheSiloHostKilledMidStreamAndRestarted_EveryConfirmedMessageIsThere()
    {
        var watch = Stopwatch.StartNew();
        await using var postgres = await PostgreSqlFixture.StartAsync();
        var (siloPort, gatewayPort) = (Loopback.FreePort(), Loopback.FreePort());
        var settings = SiloSettings(postgres);
        var silo = await SiloHostProcess.StartAsync(siloPort, gatewayPort, settings);
        var passed = false;
        Task outage = Task.CompletedTask;
        try
        {
            // The README's client (AddOrleansQueueClient) on the silo's gateway.
            using var client = SiloHostClient.Build([gatewayPort], configure: c => c.AddOrleansQueueClient());
            await client.StartAsync();
            var queue = client.Services.GetRequiredService<IClusterClient>().GetQueue("p2", SendOptions);
            var history = new History();
            var confirmed = 0;
            var killed = 0;
            var down = new Stopwatch();
            var deliveredAtKill = 0;
            var firstGeneration = (await Wait.UntilAsync(() => MembershipAsync(postgres), m => m is [{ Status: SiloStatus.Active }],
                "the silo is active in PostgreSQL membership")).Single().Generation;

            // Producers and a consumer run together; when 2,000 sends are confirmed, the silo host is SIGKILLed with
            // calls and storage writes in flight, and started again on the same ports, as a supervisor would.
            using var stop = new CancellationTokenSource();
            var consuming = ConsumeAsync(queue, history, stop.Token);
            await ProduceAsync(queue, history, Ids("p2", 6_000), inFlight: 100, onConfirmed: () =>
            {
                if (Interlocked.Increment(ref confirmed) == 2_000 && Interlocked.Exchange(ref killed, 1) == 0)
                {
                    outage = Task.Run(async () =>
                    {
                        deliveredAtKill = history.Check().Delivered;
                        await silo.KillAsync();
                        down.Start();
                        var restarted = await SiloHostProcess.StartAsync(siloPort, gatewayPort, settings);
                        down.Stop();
                        await Interlocked.Exchange(ref silo, restarted).DisposeAsync();
                    });
                }
            });
            await outage;
            await stop.CancelAsync();
            await consuming;

            // PostgreSQL membership: the killed generation is dead (status 6), the new one active.
            var members = await Wait.UntilAsync(() => MembershipAsync(postgres),
                m => m.Any(r => r.Generation == firstGeneration && r.Status == SiloStatus.Dead) && m.Any(r => r.Status == SiloStatus.Active),
                "the killed generation is dead in PostgreSQL membership and the new one active", TimeSpan.FromSeconds(60));

            var retried = await SendUnconfirmedAgainAsync(_ => queue, history);
            await DrainAsync([queue], history, TimeSpan.FromMinutes(3));
            var report = history.Check();
            output.WriteLine($"P2: {report}; SIGKILLed at 2,000 confirmed, {deliveredAtKill} delivered; silo host down {down.Elapsed.TotalSeconds:F1} s (SIGKILL to its new gateway open); " +
                $"{retried} unconfirmed sends made again; failed calls: {Failures()}; membership: {string.Join(", ", members)}; " +
                $"{watch.Elapsed.TotalSeconds:F0} s in all");
            Assert.Equal(1, killed);
            Assert.Equal((0, 0, 0, 0), (report.Lost, report.Unexpected, report.DuplicatedEnqueues, report.DuplicatedCompletions));
            await client.StopAsync();
            passed = true;
        }
        finally
        {
            await outage.ContinueWith(_ => { }, TaskScheduler.Default); // a failed restart is reported by the assertions above
            if (!passed)
            {
                output.WriteLine($"Silo host output:\n{silo.Output}");
            }

            await silo.DisposeAsync();
        }
    }

    /// <summary>
    /// Scheduled delivery across a crash: 2,000 messages scheduled a few seconds ahead, the silo host SIGKILLed just as
    /// the first are due (moves into the queue under way), started again, and nobody calls the queue: the reminder
    /// wakes it, the move cut short is finished, and every message joins the queue once; then a consumer drains it.
    /// </summary>
    [Fact]
    public async Task P6_ScheduledMessages_TheSiloHostKilledAsTheyJoinTheQueue_TheReminderWakesIt_EachJoinsOnce()
    {
        var watch = Stopwatch.StartNew();
        await using var postgres = await PostgreSqlFixture.StartAsync();
        var (siloPort, gatewayPort) = (Loopback.FreePort(), Loopback.FreePort());
        var settings = SiloSettings(postgres);
        var silo = await SiloHostProcess.StartAsync(siloPort, gatewayPort, settings);
        var passed = false;
        try
        {
            using var client = SiloHostClient.Build([gatewayPort], configure: c => c.AddOrleansQueueClient());
            await client.StartAsync();
            var queue = client.Services.GetRequiredService<IClusterClient>().GetQueue("p6", SendOptions);
            var history = new History();
            var start = DateTimeOffset.UtcNow;
            await Task.WhenAll(Enumerable.Range(0, 40).Select(async batch =>
            {
                var ids = Enumerable.Range(batch * 50, 50).Select(i => $"p6-{i}").ToList();
                await queue.SendBatchAsync(ids.Select((id, i) => OutgoingMessage.FromText(id, id) with { ScheduledEnqueueTime = start.AddSeconds(4 + i % 4) }));
                ids.ForEach(id => history.Sent(id, SendOutcome.Ok));
            }));
            Assert.Equal(2_000, (await queue.GetStatsAsync()).ScheduledCount);
            Assert.True(await ScheduleRecordsAsync(postgres) > 0);

            await Task.Delay(start.AddSeconds(4.2) - DateTimeOffset.UtcNow is { Ticks: > 0 } wait ? wait : TimeSpan.Zero);
            await silo.KillAsync();
            await silo.DisposeAsync();
            silo = await SiloHostProcess.StartAsync(siloPort, gatewayPort, settings);
            var restarted = watch.Elapsed;

            // Nobody calls the queue: its reminder (1 minute) wakes it, and the schedule empties.
            await Wait.UntilAsync(() => ScheduleRecordsAsync(postgres), n => n == 0, "the schedule's segments are gone", TimeSpan.FromMinutes(3));
            var woken = watch.Elapsed - restarted;
            await DrainAsync([queue], history, TimeSpan.FromMinutes(2));
            var report = history.Check();
            output.WriteLine($"P6: {report}; the reminder emptied the schedule {woken.TotalSeconds:F0} s after the restart; failed calls: {Failures()}; {watch.Elapsed.TotalSeconds:F0} s in all");
            Assert.Equal((0, 0, 0, 0), (report.Lost, report.Unexpected, report.DuplicatedEnqueues, report.DuplicatedCompletions));
            Assert.Equal(2_000, report.Delivered);
            var stats = await queue.GetStatsAsync();
            Assert.Equal((0L, 2_000L), (stats.ScheduledCount, stats.TotalEnqueued));
            await client.StopAsync();
            passed = true;
        }
        finally
        {
            if (!passed)
            {
                output.WriteLine($"Silo host output:\n{silo.Output}");
            }

            await silo.DisposeAsync();
        }
    }

    /// <summary>The schedule segments' chunk records of every queue (the index record aside).</summary>
    private static async Task<long> ScheduleRecordsAsync(PostgreSqlFixture postgres)
    {
        await using var connection = new NpgsqlConnection(postgres.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM orleansqueue_grain_state WHERE state_name LIKE 'oq-sched-%'", connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task P3_OneOfThreeSilosKilledMidStream_IsDeclaredDeadInPostgreSql_TheOthersServeOn_EveryConfirmedMessageIsThere()
    {
        var watch = Stopwatch.StartNew();
        await using var postgres = await PostgreSqlFixture.StartAsync();
        var settings = SiloSettings(postgres);
        var ports = Enumerable.Range(0, 3).Select(_ => (Silo: Loopback.FreePort(), Gateway: Loopback.FreePort())).ToArray();
        var silos = new SiloHostProcess?[3];
        var passed = false;
        Task outage = Task.CompletedTask;
        try
        {
            for (var i = 0; i < silos.Length; i++)
            {
                silos[i] = await SiloHostProcess.StartAsync(ports[i].Silo, ports[i].Gateway, settings);
            }

            await Wait.UntilAsync(() => MembershipAsync(postgres), m => m.Count(r => r.Status == SiloStatus.Active) == 3,
                "three silos are active in PostgreSQL membership", TimeSpan.FromSeconds(60));

            // The client finds the gateways in PostgreSQL membership too.
            using var client = new HostBuilder().UseOrleansClient(c =>
            {
                c.UseOrleansQueuePostgreSqlClustering(postgres.ConnectionString);
                c.Configure<ClusterOptions>(o => (o.ServiceId, o.ClusterId) = (SiloHostClient.DefaultServiceId, "orleans-queue-dev"));
                c.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = TimeSpan.FromSeconds(1));
                c.AddOrleansQueueClient();
            }).Build();
            await client.StartAsync();
            var grains = client.Services.GetRequiredService<IClusterClient>();
            var queues = Enumerable.Range(0, 6).Select(i => grains.GetQueue($"p3q{i}", SendOptions)).ToArray();
            QueueClient QueueOf(string id) => queues[int.Parse(id.Split('-')[0][3..])];

            // The queues spread over the silos; the victim is the silo that hosts the most of them.
            var placement = new int[queues.Length];
            for (var q = 0; q < queues.Length; q++)
            {
                placement[q] = await SiloIndexOfAsync(grains, queues[q].Name, ports.Select(p => p.Silo).ToArray());
            }

            var victim = Enumerable.Range(0, 3).MaxBy(s => placement.Count(p => p == s));
            var onVictim = Enumerable.Range(0, queues.Length).Where(q => placement[q] == victim).ToArray();

            var history = new History();
            var confirmed = 0;
            var killed = 0;
            var declaredDead = TimeSpan.Zero;
            var deliveredAtKill = 0;
            List<Member> members = [];

            // Producers and a consumer for each queue; when 3,000 sends are confirmed, the victim is SIGKILLed, and the
            // survivors must declare it dead in PostgreSQL membership (status 6) while the producers go on.
            using var stop = new CancellationTokenSource();
            var consuming = Task.WhenAll(queues.Select(q => ConsumeAsync(q, history, stop.Token)));
            await Task.WhenAll(queues.Select(q => ProduceAsync(q, history, Ids(q.Name, 1_500), inFlight: 20, onConfirmed: () =>
            {
                if (Interlocked.Increment(ref confirmed) == 3_000 && Interlocked.Exchange(ref killed, 1) == 0)
                {
                    outage = Task.Run(async () =>
                    {
                        deliveredAtKill = history.Check().Delivered;
                        await silos[victim]!.KillAsync();
                        var sinceKill = Stopwatch.StartNew();
                        members = await Wait.UntilAsync(() => MembershipAsync(postgres),
                            m => m.Any(r => r.Port == ports[victim].Silo && r.Status == SiloStatus.Dead),
                            $"silo {victim} (port {ports[victim].Silo}) is dead in PostgreSQL membership", TimeSpan.FromSeconds(60));
                        declaredDead = sinceKill.Elapsed;
                    });
                }
            })));
            await outage;
            Assert.All(ports.Where((_, i) => i != victim),
                p => Assert.Equal(SiloStatus.Active, members.Single(r => r.Port == p.Silo).Status));

            // The remaining silos keep serving: every queue, those that lived on the victim too, takes 200 more sends.
            var confirmedAfter = 0;
            await Task.WhenAll(queues.Select(q => ProduceAsync(q, history, Ids(q.Name + "-after", 200), inFlight: 20,
                onConfirmed: () => Interlocked.Increment(ref confirmedAfter))));
            Assert.Equal(queues.Length * 200, confirmedAfter);
            await stop.CancelAsync();
            await consuming;

            var retried = await SendUnconfirmedAgainAsync(QueueOf, history);
            var moved = new int[queues.Length];
            for (var q = 0; q < queues.Length; q++)
            {
                moved[q] = await SiloIndexOfAsync(grains, queues[q].Name, ports.Select(p => p.Silo).ToArray());
            }

            Assert.DoesNotContain(victim, moved);
            await DrainAsync(queues, history, TimeSpan.FromMinutes(3));
            var report = history.Check();
            output.WriteLine($"P3: {report}; silo {victim} of 3 SIGKILLed at 3,000 confirmed, {deliveredAtKill} delivered (it hosted queues {string.Join(",", onVictim)} of 0-5; placement " +
                $"{string.Join("", placement)} -> {string.Join("", moved)}); declared dead in PostgreSQL membership {declaredDead.TotalSeconds:F1} s later; " +
                $"{confirmedAfter} of {queues.Length * 200} sends confirmed after that on the 2 survivors; {retried} unconfirmed sends made again; " +
                $"failed calls: {Failures()}; {watch.Elapsed.TotalSeconds:F0} s in all");
            Assert.Equal(1, killed);
            Assert.Equal((0, 0, 0, 0), (report.Lost, report.Unexpected, report.DuplicatedEnqueues, report.DuplicatedCompletions));
            await client.StopAsync();
            passed = true;
        }
        finally
        {
            await outage.ContinueWith(_ => { }, TaskScheduler.Default);
            for (var i = 0; i < silos.Length; i++)
            {
                if (silos[i] is { } silo)
                {
                    if (!passed)
                    {
                        output.WriteLine($"Silo {i} output:\n{silo.Output}");
                    }

                    await silo.DisposeAsync();
                }
            }
        }
    }

    private static IEnumerable<string> Ids(string prefix, int count) => Enumerable.Range(0, count).Select(i => $"{prefix}-{i}");

    private static bool IsCallFailure(Exception e) => e is QueueException or TimeoutException or OrleansException or OperationCanceledException;

    private void NoteFailure(Exception e)
    {
        var kind = e is QueueException q ? $"{nameof(QueueException)}.{q.Code}" : e.GetType().Name;
        _failures.AddOrUpdate(kind, 1, (_, n) => n + 1);
    }

    private string Failures() => _failures.IsEmpty ? "none" : string.Join(", ", _failures.OrderBy(f => f.Key).Select(f => $"{f.Key} {f.Value}"));

    /// <summary>Sends each id once (the client retries while the outcome is unknown); a send that still fails is Unknown.</summary>
    private async Task ProduceAsync(QueueClient queue, History history, IEnumerable<string> ids, int inFlight, Action? onConfirmed = null)
    {
        using var gate = new SemaphoreSlim(inFlight);
        await Task.WhenAll(ids.Select(async id =>
        {
            await gate.WaitAsync();
            try
            {
                await queue.SendAsync(OutgoingMessage.FromText(id, id));
                history.Sent(id, SendOutcome.Ok);
                onConfirmed?.Invoke();
            }
            catch (Exception e) when (IsCallFailure(e))
            {
                NoteFailure(e);
                history.Sent(id, SendOutcome.Unknown); // it may have been stored: a later send of the same id must not store it twice
            }
            finally
            {
                gate.Release();
            }
        }));
    }

    /// <summary>A polling consumer until <paramref name="stop"/>: receives, records, completes, rides out failures.</summary>
    private Task ConsumeAsync(QueueClient queue, History history, CancellationToken stop) => Task.Run(async () =>
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                if (await Workload.ReceiveAndCompleteAsync(queue, history, 100, LockDuration) == 0)
                {
                    await Task.Delay(20); // a polling consumer's pause when the queue is empty
                }
            }
            catch (Exception e) when (IsCallFailure(e))
            {
                NoteFailure(e); // what this call locked comes back when its lease runs out
            }
        }
    });

    /// <summary>A producer sends again what was not confirmed, with the same ids: duplicate detection keeps one copy.</summary>
    private async Task<int> SendUnconfirmedAgainAsync(Func<string, QueueClient> queueOf, History history)
    {
        var retried = 0;
        foreach (var id in history.Unconfirmed)
        {
            await Wait.UntilAsync(async () =>
            {
                try
                {
                    await queueOf(id).SendAsync(OutgoingMessage.FromText(id, id));
                    return true;
                }
                catch (Exception e) when (IsCallFailure(e))
                {
                    NoteFailure(e);
                    return false;
                }
            }, sent => sent, $"{id} is sent again", TimeSpan.FromSeconds(60));
            history.Sent(id, SendOutcome.Ok);
            retried++;
        }

        return retried;
    }

    /// <summary>Receives and completes until every queue is empty; leases are real-time here and run out on their own.</summary>
    private async Task DrainAsync(IReadOnlyList<QueueClient> queues, History history, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var pending = queues.ToList();
        while (pending.Count > 0)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{string.Join(", ", pending.Select(q => q.Name))} did not drain within {timeout}.");
            }

            foreach (var queue in pending.ToList())
            {
                try
                {
                    // A long poll: returns as soon as a message is ready, a lease that ran out included.
                    if (await Workload.ReceiveAndCompleteAsync(queue, history, 100, LockDuration, TimeSpan.FromSeconds(1)) == 0
                        && (await queue.GetStatsAsync()).ActiveCount == 0)
                    {
                        pending.Remove(queue);
                    }
                }
                catch (Exception e) when (IsCallFailure(e))
                {
                    NoteFailure(e); // a completion whose outcome is unknown: the message comes back if it did not land
                }
            }
        }
    }

    /// <summary>The index (in <paramref name="siloPorts"/>) of the silo that hosts the queue, activating it first.</summary>
    private static async Task<int> SiloIndexOfAsync(IClusterClient grains, string queue, int[] siloPorts)
    {
        // The directory may not know the activation for a moment after a membership change: touch and ask again.
        var address = await Wait.UntilAsync(async () =>
        {
            try
            {
                await grains.GetGrain<IQueueGrain>(queue).GetStats();
                return await grains.GetGrain<IManagementGrain>(0).GetActivationAddress(grains.GetGrain<IQueueGrain>(queue));
            }
            catch (Exception e) when (IsCallFailure(e))
            {
                return null;
            }
        }, a => a is not null && siloPorts.Contains(a.Endpoint.Port), $"the silo of {queue} is known", TimeSpan.FromSeconds(30));
        return Array.IndexOf(siloPorts, address!.Endpoint.Port);
    }

    private sealed record Member(int Port, int Generation, SiloStatus Status)
    {
        public override string ToString() => $"{Port}/{Generation}: {Status}";
    }

    /// <summary>The rows of PostgreSQL membership (Orleans' ADO.NET clustering on OrleansQueue's schema).</summary>
    private static async Task<List<Member>> MembershipAsync(PostgreSqlFixture postgres)
    {
        await using var connection = new NpgsqlConnection(postgres.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT port, generation, status FROM orleansqueue_membership ORDER BY port, generation", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var members = new List<Member>();
        while (await reader.ReadAsync())
        {
            members.Add(new Member(reader.GetInt32(0), reader.GetInt32(1), (SiloStatus)reader.GetInt32(2)));
        }

        return members;
    }
}
