using OrleansQueue.Benchmarks;
using OrleansQueue.Benchmarks.Harness;
using OrleansQueue.Tests.Infrastructure;

// The comparison harness (docs/benchmarks.md): the same workloads against OrleansQueue (silo host on PostgreSQL, on
// Azure Table via Azurite, and on memory storage as the ceiling), RabbitMQ (quorum and classic durable queues) and
// Orleans persistent streams over Azure Queue storage (Azurite). Run it through .ci/bench, which starts RabbitMQ and
// PostgreSQL and stops them afterwards:
//   bash .ci/bench            full run (minutes; alone on the machine)
//   bash .ci/bench --smoke    a few messages per workload: checks the harness works, measures nothing
// Options: --systems oq-postgres,oq-table,oq-memory,rabbit-quorum,rabbit-classic,streams
//          --workloads w1,w5,w2,w3,matrix,w4,w9,w6  --messages N  --backlog N  --json path  --markdown path
//          --matrix-mb N (message bytes per matrix cell)  --matrix-sizes 256,16384,65536  --matrix-queues 1,8,32 (part of the matrix).
// RabbitMQ's port comes from RABBITMQ_PORT, its Erlang VM process id from RABBITMQ_PID; PostgreSQL's connection
// string from ORLEANSQUEUE_BENCH_POSTGRES (a database of the benchmark's own), its server's process id from POSTGRES_PID.
if (args is [OrleansFloor.SiloCommand, var floorKind, var floorSiloPort, var floorGatewayPort, var floorStorage, var floorTable])
{
    // The silo of the Orleans floor rows (OrleansFloor), started by the harness as a process of its own.
    await OrleansFloor.RunSiloAsync(floorKind, int.Parse(floorSiloPort), int.Parse(floorGatewayPort), floorStorage, floorTable);
    return 0;
}

var options = Args.Parse(args);
var smoke = options.ContainsKey("smoke");
var settings = smoke
    ? new BenchSettings { Messages = 1000, PacedSeconds = 1, PacedRates = [1000], Backlog = 5000, WarmUp = 100, MatrixBytes = 1, MatrixMinMessages = 200 }
    : new BenchSettings();
if (options.TryGetValue("matrix-mb", out var matrixMb))
{
    settings = settings with { MatrixBytes = long.Parse(matrixMb) * 1024 * 1024 };
}
if (options.TryGetValue("messages", out var messages))
{
    settings = settings with { Messages = int.Parse(messages) };
}

if (options.TryGetValue("backlog", out var backlogSize))
{
    settings = settings with { Backlog = int.Parse(backlogSize) };
}

var systems = (options.GetValueOrDefault("systems") ?? "oq-postgres,oq-table,oq-memory,rabbit-quorum,rabbit-classic,streams")
    .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
var rabbitPort = int.TryParse(Environment.GetEnvironmentVariable("RABBITMQ_PORT"), out var p) ? p : 5673;
int? rabbitPid = int.TryParse(Environment.GetEnvironmentVariable("RABBITMQ_PID"), out var rpid) ? rpid : null;
var postgres = Environment.GetEnvironmentVariable("ORLEANSQUEUE_BENCH_POSTGRES");
IReadOnlyList<int> postgresPids = PostgreSqlFloor.PostmasterPids();
if (systems.Contains("oq-postgres"))
{
    if (string.IsNullOrEmpty(postgres))
    {
        throw new ArgumentException("oq-postgres needs ORLEANSQUEUE_BENCH_POSTGRES, a PostgreSQL connection string: run through .ci/bench, which starts PostgreSQL.");
    }

    await OrleansQueue.PostgreSql.PostgreSqlSchema.ApplyAsync(postgres);
}

var machine = $"{Environment.ProcessorCount} cores, {Math.Round(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 1024.0 / 1024 / 1024)} GiB, " +
    $"{System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version}, Azurite 3.37.0 (in-memory persistence), " +
    (postgres is null ? "" : $"PostgreSQL {await PostgreSqlVersionAsync(postgres)} (fsync and synchronous_commit on), ") +
    $"256-byte persistent messages unless the workload says otherwise, {settings.InFlight:N0} sends in flight, prefetch {settings.Prefetch:N0}" + (smoke ? " (SMOKE RUN: not a measurement)" : "");

var only = options.GetValueOrDefault("workloads")?.ToLowerInvariant().Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
bool Runs(string workload) => only is null || only.Contains(workload);

// --matrix-sizes 256,16384 and --matrix-queues 1,32 run part of the matrix (to look into one cell); the smoke run
// takes the corners (256 B and 64 KiB × 1 and 8 queues), enough to prove every path of the harness works.
int[] MatrixPart(string option, int[] all, int[] smokePart) =>
    options.GetValueOrDefault(option)?.Split(',').Select(int.Parse).Where(all.Contains).ToArray() ?? (smoke ? smokePart : all);
var matrixSizes = MatrixPart("matrix-sizes", Workloads.MatrixSizes, [256, 64 * 1024]);
var matrixQueues = MatrixPart("matrix-queues", Workloads.MatrixQueues, [1, 8]);

await using var azurite = new AzuriteFixture(inMemoryPersistence: true);
_ = Task.Run(async () =>
{
    // Azurite keeps every table row in memory: if it dies, say so and stop instead of waiting on a storage that is gone.
    while (!azurite.HasExited)
    {
        await Task.Delay(1000);
    }

    Console.Error.WriteLine($"Azurite exited during the run:\n{azurite.LastErrors}");
    Environment.Exit(2);
});
var workloads = new Workloads(settings);
var results = new List<BenchResult>();
foreach (var system in systems)
{
    IBenchTarget target = system switch
    {
        "oq-postgres" => new OrleansQueueTarget(Report.PostgreSql, "PostgreSql", postgres, postgresPids, Durability.Fsync, new WalMeter(postgres!), settings),
        "oq-table" => new OrleansQueueTarget(Report.Reference, "AzureTable", azurite.ConnectionString, azurite.Pid is { } a ? [a] : [], Durability.Emulator,
            azurite.Pid is { } ap ? ProcIoMeter.AzuriteRequests(ap) : null, settings),
        "oq-memory" => new OrleansQueueTarget("OrleansQueue (memory storage)", "Memory", null, [], Durability.Memory, null, settings),
        "rabbit-quorum" => new RabbitMqTarget("quorum", rabbitPort, rabbitPid),
        "rabbit-classic" => new RabbitMqTarget("classic", rabbitPort, rabbitPid),
        "streams" => new StreamsTarget(azurite.ConnectionString, azurite.Pid, smoke ? settings.Messages : 3_000),
        _ => throw new ArgumentException($"Unknown system '{system}'."),
    };

    await using (target)
    {
        Console.Error.WriteLine($"==> {target.System}");
        await target.StartAsync();
        var warm = await workloads.W1Async(target, Math.Min(settings.WarmUp, Math.Max(100, target.MaxMessages / 10)));
        Console.Error.WriteLine($"    (warm-up: {warm.Delivered:N0} messages at {warm.ConsumedPerSecond:N0}/s, not recorded)");
        if (Runs("w1"))
        {
            results.Add(Print(await workloads.W1Async(target)));
        }

        if (Runs("w5"))
        {
            if (target is IStragglerTarget stragglers)
            {
                // Right after W1, so the two rows compare: the targets table gives W5 ÷ W1 for each system.
                results.Add(Print(await workloads.W5Async(stragglers)));
            }
            else
            {
                Console.Error.WriteLine("    W5: not run: Orleans streams have no per-message lock or acknowledgement, so no receiver can hold messages unsettled");
            }
        }

        if (target is not StreamsTarget && Runs("w2"))
        {
            // Implicit stream subscribers consume as items arrive: there is no "send first, then drain" for streams.
            results.Add(Print(await workloads.W2Async(target)));
        }

        foreach (var rate in Runs("w3") ? settings.PacedRates : [])
        {
            results.Add(Print(await workloads.W3Async(target, rate)));
        }

        if (target is OrleansQueueTarget { System: Report.Reference } && Runs("w3"))
        {
            // Right after OrleansQueue's W3, on the same Azurite in the same state, with the silo idle.
            Console.Error.WriteLine($"==> {AzuriteFloor.SystemName}");
            var write = Print(await AzuriteFloor.RunAsync(azurite.ConnectionString, settings.PacedRates[0], settings.PacedSeconds));
            results.Add(write);
            Console.Error.WriteLine($"==> {OrleansFloor.RoundTripSystemName}; {OrleansFloor.SystemName}");
            var calls = await OrleansFloor.RunAsync(azurite.ConnectionString, settings.PacedRates[0], settings.PacedSeconds,
                roundTrip: !results.Any(r => r.System == OrleansFloor.RoundTripSystemName));
            results.AddRange(calls.Select(Print));
            results.AddRange(LowerBound.Rows(results.FirstOrDefault(c => c.System == OrleansFloor.RoundTripSystemName), write, settings.PacedRates[0])
                .Select(Print));
        }

        if (target is OrleansQueueTarget { System: Report.PostgreSql } && Runs("w3"))
        {
            Console.Error.WriteLine($"==> {PostgreSqlFloor.SystemName}");
            results.Add(Print(await PostgreSqlFloor.RunAsync(postgres!, settings.PacedRates[0], settings.PacedSeconds)));
            Console.Error.WriteLine($"==> {OrleansFloor.PostgreSqlSystemName}");
            var calls = await OrleansFloor.RunPostgreSqlAsync(postgres!, settings.PacedRates[0], settings.PacedSeconds,
                roundTrip: !results.Any(r => r.System == OrleansFloor.RoundTripSystemName));
            results.AddRange(calls.Select(Print));
        }

        if (target is OrleansQueueTarget { System: Report.Reference or Report.PostgreSql } oq && Runs("w4"))
        {
            foreach (var row in await workloads.W4Async(oq))
            {
                results.Add(Print(row));
            }
        }

        if (target is OrleansQueueTarget { System: Report.Reference or Report.PostgreSql } scheduled && Runs("w9"))
        {
            try
            {
                foreach (var row in await workloads.W9Async(scheduled))
                {
                    results.Add(Print(row));
                }
            }
            catch (Exception ex)
            {
                Console.Error.WriteLine($"    W9 FAILED: {ex}");
            }
        }

        if (target is OrleansQueueTarget storm && Runs("w6"))
        {
            // After W4, so that the W4 row's silo peak memory is W4's own.
            results.Add(Print(await workloads.W6Async(storm)));
        }

        // Last: its large messages raise the silo's peak memory, which W4 reports.
        if (target is not StreamsTarget && Runs("matrix"))
        {
            foreach (var size in matrixSizes)
            {
                // First a cell nobody records: a process's first messages of a size grow its heap for them. Without
                // it, the first cell of 64 KiB messages (one queue) ran at 0.66-0.69 × the PostgreSQL floor, and the
                // same cell after two others at 0.94 ×; after a quarter of a cell, at 0.80-0.90 ×.
                var warmCell = await workloads.MatrixCellAsync(target, size, matrixQueues[0]);
                Console.Error.WriteLine($"    (warm-up: {warmCell.Delivered:N0} messages of {Workloads.SizeLabel(size)} at {warmCell.ConsumedPerSecond:N0}/s, not recorded)");
                foreach (var queues in matrixQueues)
                {
                    if (target is OrleansQueueTarget { System: Report.PostgreSql })
                    {
                        await PostgreSqlFloor.SettleAsync(postgres!); // each cell on a database without the last one's leftovers
                    }

                    results.Add(Print(await workloads.MatrixCellAsync(target, size, queues)));
                }
            }

            // The storage's floor for each message size, right after the cells, with the silo idle.
            foreach (var size in matrixSizes)
            {
                if (target is OrleansQueueTarget { System: Report.PostgreSql })
                {
                    results.Add(Print(await PostgreSqlFloor.MatrixAsync(postgres!, size, smoke ? 0.5 : 4)));
                }
                else if (target is OrleansQueueTarget { System: Report.Reference })
                {
                    results.Add(Print(await AzuriteFloor.MatrixAsync(azurite.ConnectionString, size, azurite.Pid, smoke ? 0.5 : 4)));
                }
            }
        }
    }
}

// PostgreSQL's W3 floor beside the Orleans round trip measured after OrleansQueue's W3 on Azurite: what any durable
// confirm on Orleans and PostgreSQL costs at least (both measured with the silos idle).
if (results.FirstOrDefault(r => r.System == OrleansFloor.RoundTripSystemName) is { } trip
    && results.FirstOrDefault(r => r.System == PostgreSqlFloor.SystemName && r.Workload.StartsWith("W3", StringComparison.Ordinal)) is { } commit)
{
    results.AddRange(LowerBound.Rows(trip, commit, settings.PacedRates[0], postgreSql: true).Select(Print));
}

var markdown = Report.Markdown(results, machine);
Console.WriteLine(markdown);
Console.WriteLine("| target | met | numbers |");
Console.WriteLine("|---|---|---|");
foreach (var (name, met, detail) in Report.Targets(results))
{
    Console.WriteLine($"| {name} | {(met is null ? "not measured" : met.Value ? "yes" : "NO")} | {detail} |");
}

// Only a full run replaces results/latest.json (the README's table); smoke and partial runs go beside it, git-ignored.
var partial = options.Keys.Any(k => k is "systems" or "workloads" or "messages" or "backlog" or "matrix-mb" or "matrix-sizes" or "matrix-queues");
var json = options.GetValueOrDefault("json") ?? Path.Combine(Repository.Root, "tests", "OrleansQueue.Benchmarks", "results",
    smoke ? "smoke.json" : partial ? "partial.json" : "latest.json");
Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(json))!);
await File.WriteAllTextAsync(json, Report.Json(results, machine));
if (options.GetValueOrDefault("markdown") is { } md)
{
    await File.WriteAllTextAsync(md, markdown);
}

Console.Error.WriteLine($"JSON: {json}");

// A benchmark reports; it fails when OrleansQueue lost a confirmed message or confirmed nothing, or, in the smoke
// run, when any system did (1,000 messages drain everywhere, so that means the harness is broken). In a full run a
// peer too slow to drain within the timeout is reported in the table, not failed.
var broken = results.Where(r => !r.Complete && (smoke || r.System.StartsWith("OrleansQueue", StringComparison.Ordinal))).ToList();
foreach (var r in broken)
{
    Console.Error.WriteLine($"INCOMPLETE: {r.System} / {r.Workload}: confirmed {r.Confirmed:N0}, delivered {r.Delivered:N0}. {r.Note}");
}

return broken.Count == 0 ? 0 : 1;

static BenchResult Print(BenchResult r)
{
    Console.Error.WriteLine($"    {r.Workload}: {r.Delivered:N0}/{r.Messages:N0} sent/s {r.SentPerSecond:N0} consumed/s {r.ConsumedPerSecond:N0} MB/s {r.MegabytesPerSecond:N1} p50 {r.P50Ms:N1} p99 {r.P99Ms:N1} p99.9 {r.P999Ms:N1} ms confirm p50 {r.ConfirmP50Ms:N1} p99 {r.ConfirmP99Ms:N1} ms peak {r.PeakMemoryMb:N0} MB cpu µs/msg server {r.ServerCpuUs:N0} client {r.ClientCpuUs:N0} write amp {r.WriteAmplification:N2} {r.Note}");
    return r;
}

static async Task<string> PostgreSqlVersionAsync(string connectionString)
{
    await using var connection = new Npgsql.NpgsqlConnection(connectionString);
    await connection.OpenAsync();
    return connection.PostgreSqlVersion.ToString();
}

internal static class Args
{
    /// <summary>--name value pairs and bare --flags.</summary>
    public static Dictionary<string, string> Parse(string[] args)
    {
        var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal))
            {
                throw new ArgumentException($"Unexpected argument '{args[i]}'.");
            }

            var name = args[i][2..];
            result[name] = i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal) ? args[++i] : "true";
        }

        return result;
    }
}
